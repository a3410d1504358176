"""The 雇用保険 wage estimate of a 事業所 for a fiscal year (rules/wage_totals.py), which the
jimukumiai service offers its staff as a starting point for the 年度更新's 賃金総額.

Amounts per person id only — no names. Staff need the 雇用保険 read menu and the 事業所; the
jimukumiai service calls with its service token."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from services.koyo_hoken.api import CanRead, Rt
from services.koyo_hoken.models import InsuredPerson, jigyosho_directory
from services.koyo_hoken.rules import wage_totals
from shared.errors import not_found, problem_responses
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("koyo_hoken"), tags=["koyo_hoken wages"])


class PersonWageOut(BaseModel):
    person_id: str
    months: int = Field(description="months of the fiscal year insured on at least one day")
    monthly_wage: int | None = Field(description="賃金月額 from the 資格取得届 (円); null: not known")
    wages: int = Field(description="monthly_wage × months (0 without a 賃金月額)")


class WageEstimateOut(BaseModel):
    jigyosho_id: str
    fiscal_year: int
    koyo_wages: int = Field(description="Σ wages: an estimate of the 雇用保険 賃金総額 (no bonuses, no changes)")
    without_wage: int = Field(description="persons insured in the year whose 賃金月額 is not known (not in the sum)")
    basis: str
    persons: list[PersonWageOut]


BASIS = "賃金月額（資格取得届）× 年度内の被保険者期間の月数（1日でもあれば1か月）による見込み。賞与・昇給等は含みません"


@router.get("/wage-estimate", response_model=WageEstimateOut, responses=problem_responses(401, 403, 404, 422))
def wage_estimate(access: CanRead, rt: Rt, jigyosho_id: Annotated[str, Query(min_length=1, max_length=36)],
                  fiscal_year: Annotated[int, Query(ge=2000, le=2100)]) -> WageEstimateOut:
    """An estimate of the 事業所's 雇用保険 賃金総額 for the fiscal year (April–March) from its insured
    persons' 賃金月額; see `basis`. A 事業所 outside the caller's grant, or not in the tenant's 事業所
    master, answers 404."""
    if not access.allows_jigyosho(jigyosho_id):
        raise not_found()
    first, last = date(fiscal_year, 4, 1), date(fiscal_year + 1, 3, 31)
    with rt.db.sessions() as session:
        if jigyosho_directory.get(session, access.tenant_id, jigyosho_id) is None:
            raise not_found()
        rows = session.execute(select(InsuredPerson.id, InsuredPerson.hire_date, InsuredPerson.leave_date,
                                      InsuredPerson.monthly_wage).where(
            InsuredPerson.tenant_id == access.tenant_id, InsuredPerson.jigyosho_id == jigyosho_id,
            InsuredPerson.hire_date <= last,
            or_(InsuredPerson.leave_date.is_(None), InsuredPerson.leave_date >= first))).all()
    e = wage_totals.estimate((wage_totals.PersonSpan(r.id, r.hire_date, r.leave_date, r.monthly_wage) for r in rows),
                             fiscal_year)
    return WageEstimateOut(jigyosho_id=jigyosho_id, fiscal_year=fiscal_year, koyo_wages=e.koyo_wages,
                           without_wage=e.without_wage, basis=BASIS,
                           persons=[PersonWageOut(**p.__dict__) for p in e.persons])
