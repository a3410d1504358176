"""The koyo_hoken wage estimate of a member's 事業所, beside the wages entered for the year."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from services.jimukumiai import repository
from services.jimukumiai.api import CanRead, Rt, scoped_member
from services.jimukumiai.koyo_wages import KoyoHokenWages
from shared.errors import problem_responses
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("jimukumiai"), tags=["jimukumiai wages"])


class KoyoPersonWage(BaseModel):
    person_id: str
    months: int
    monthly_wage: int | None
    wages: int


class KoyoWageEstimateOut(BaseModel):
    member_id: str
    jigyosho_id: str
    fiscal_year: int
    koyo_wages: int = Field(description="koyo_hoken's estimate of the 雇用保険 賃金総額 (see basis)")
    without_wage: int = Field(description="insured persons of the year whose 賃金月額 koyo_hoken does not know")
    basis: str
    persons: list[KoyoPersonWage]
    entered_koyo_wages: int | None = Field(description="the 雇用 wages entered for the year, for comparison")


@router.get("/members/{member_id}/wages/{fiscal_year}/koyo-hoken-estimate", response_model=KoyoWageEstimateOut,
            responses=problem_responses(401, 403, 404, 503))
def koyo_hoken_estimate(member_id: str, fiscal_year: Annotated[int, Path(ge=2000, le=2100)], access: CanRead,
                        rt: Rt) -> KoyoWageEstimateOut:
    """The member's 雇用保険 賃金総額 of the year as koyo_hoken can sum it: each insured person's
    賃金月額 times the months insured (no bonuses or raises: a starting point to confirm, then PUT
    the wages with `source` koyo_hoken). 労災 wages (all workers) are not in koyo_hoken's data.
    503 while koyo_hoken cannot be reached."""
    with rt.db.sessions() as session:
        member = scoped_member(session, access, member_id)
        jigyosho_id = member.jigyosho_id
        entered = repository.wage_report(session, access.tenant_id, member.id, fiscal_year)
        entered_koyo = entered.koyo_wages if entered is not None else None
    client: KoyoHokenWages = rt.extras["koyo_wages"]
    data = client.estimate(access.tenant_id, jigyosho_id, fiscal_year)
    return KoyoWageEstimateOut(member_id=member_id, jigyosho_id=jigyosho_id, fiscal_year=fiscal_year,
                               koyo_wages=int(data["koyo_wages"]), without_wage=int(data["without_wage"]),
                               basis=str(data["basis"]), persons=[KoyoPersonWage(**p) for p in data["persons"]],
                               entered_koyo_wages=entered_koyo)
