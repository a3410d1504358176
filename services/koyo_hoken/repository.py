"""Queries of the koyo_hoken service. Every query is scoped by tenant_id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.koyo_hoken.models import EligibilityChange, EligibilityDecision, InsuredPerson, Procedure
from shared import paging


def insured_person_in_tenant(session: Session, tenant_id: str, person_id: str) -> InsuredPerson | None:
    return session.execute(
        select(InsuredPerson).where(InsuredPerson.tenant_id == tenant_id, InsuredPerson.id == person_id)
    ).scalar_one_or_none()


def insured_persons_in_tenant(
    session: Session, tenant_id: str, jigyosho_id: str | None, granted: Collection[str] | None, limit: int,
    offset: int, *, sort: paging.Sort = "created_at", updated_since: datetime | None = None,
) -> tuple[Sequence[InsuredPerson], int]:
    """One page, and the total the filter matches (for the client's pager). `granted`: the
    事業所 the caller may see (None = all)."""
    where = [InsuredPerson.tenant_id == tenant_id,
             *paging.since(InsuredPerson.created_at, InsuredPerson.updated_at, updated_since)]
    if jigyosho_id is not None:
        where.append(InsuredPerson.jigyosho_id == jigyosho_id)
    if granted is not None:
        where.append(InsuredPerson.jigyosho_id.in_(sorted(granted)))
    total = session.execute(select(func.count()).select_from(InsuredPerson).where(*where)).scalar_one()
    # id breaks created_at ties, so pages never overlap or skip.
    rows = session.execute(
        select(InsuredPerson).where(*where)
        .order_by(*paging.order_by(sort, InsuredPerson.created_at, InsuredPerson.updated_at, InsuredPerson.id))
        .limit(limit).offset(offset)
    ).scalars().all()
    return rows, total


def persons_by_number_key(session: Session, tenant_id: str, key: str) -> list[InsuredPerson]:
    """Every person of the tenant with this 被保険者番号 (rules.numbers.hihokensha_key)."""
    return list(session.execute(
        select(InsuredPerson).where(InsuredPerson.tenant_id == tenant_id, InsuredPerson.hihokensha_key == key)
    ).scalars())


def procedure_in_tenant(session: Session, tenant_id: str, procedure_id: str) -> Procedure | None:
    return session.execute(
        select(Procedure).where(Procedure.tenant_id == tenant_id, Procedure.id == procedure_id)
    ).scalar_one_or_none()


def open_procedure(session: Session, tenant_id: str, person_id: str, kind: str) -> Procedure | None:
    """A procedure of this kind for this person that is not withdrawn (one at a time)."""
    kinds = [kind]
    if kind.startswith("shikaku_soshitsu"):
        kinds = ["shikaku_soshitsu", "shikaku_soshitsu_rishoku"]
    if kind == "tenkin":
        return None  # a person may be transferred more than once
    return session.execute(
        select(Procedure).where(Procedure.tenant_id == tenant_id, Procedure.insured_person_id == person_id,
                                Procedure.kind.in_(kinds), Procedure.state != "withdrawn").limit(1)
    ).scalar_one_or_none()


def procedure_for_filing(session: Session, tenant_id: str, procedure_id: str | None,
                         filing_id: str | None) -> Procedure | None:
    if procedure_id:
        found = procedure_in_tenant(session, tenant_id, procedure_id)
        if found is not None:
            return found
    if filing_id:
        return session.execute(
            select(Procedure).where(Procedure.tenant_id == tenant_id, Procedure.filing_id == filing_id).limit(1)
        ).scalar_one_or_none()
    return None


def procedures_in_tenant(
    session: Session, tenant_id: str, granted: Collection[str] | None, *, jigyosho_id: str | None = None,
    person_id: str | None = None, kind: str | None = None, state: str | None = None, limit: int = 50,
    offset: int = 0, sort: paging.Sort = "created_at", updated_since: datetime | None = None,
) -> tuple[Sequence[Procedure], int]:
    where = [Procedure.tenant_id == tenant_id, *paging.since(Procedure.created_at, Procedure.updated_at, updated_since)]
    if granted is not None:
        where.append(Procedure.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(Procedure.jigyosho_id == jigyosho_id)
    if person_id is not None:
        where.append(Procedure.insured_person_id == person_id)
    if kind is not None:
        where.append(Procedure.kind == kind)
    if state is not None:
        where.append(Procedure.state == state)
    total = session.execute(select(func.count()).select_from(Procedure).where(*where)).scalar_one()
    rows = session.execute(
        select(Procedure).where(*where)
        .order_by(*paging.order_by(sort, Procedure.created_at, Procedure.updated_at, Procedure.id))
        .limit(limit).offset(offset)
    ).scalars().all()
    return rows, total


def pending_procedures(session: Session, tenant_id: str, granted: Collection[str] | None,
                       jigyosho_id: str | None, states: Collection[str]) -> Sequence[Procedure]:
    """Procedures not yet filed (their deadline still matters), for the deadline view."""
    where = [Procedure.tenant_id == tenant_id, Procedure.state.in_(sorted(states))]
    if granted is not None:
        where.append(Procedure.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(Procedure.jigyosho_id == jigyosho_id)
    return session.execute(select(Procedure).where(*where)).scalars().all()


def persons_missing_shutoku(session: Session, tenant_id: str, granted: Collection[str] | None,
                            jigyosho_id: str | None) -> Sequence[InsuredPerson]:
    """Active persons without a 被保険者番号 and without a (non-withdrawn) 資格取得届: their
    取得届 deadline runs although nobody has started it. Persons whose stored eligibility decision
    says not insured (issue 25) owe no 取得届 and are left out."""
    has_shutoku = (select(Procedure.id).where(Procedure.tenant_id == tenant_id,
                                              Procedure.insured_person_id == InsuredPerson.id,
                                              Procedure.kind == "shikaku_shutoku", Procedure.state != "withdrawn")
                   .exists())
    not_insured = (select(EligibilityDecision.insured_person_id).where(
        EligibilityDecision.tenant_id == tenant_id, EligibilityDecision.insured_person_id == InsuredPerson.id,
        EligibilityDecision.insured.is_(False)).exists())
    where = [InsuredPerson.tenant_id == tenant_id, InsuredPerson.status == "active",
             InsuredPerson.hihokensha_bango.is_(None), ~has_shutoku, ~not_insured]
    if granted is not None:
        where.append(InsuredPerson.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(InsuredPerson.jigyosho_id == jigyosho_id)
    return session.execute(select(InsuredPerson).where(*where)).scalars().all()


def became_insured(session: Session, tenant_id: str, person_ids: Collection[str]) -> dict[str, EligibilityChange]:
    """Per person, the latest re-judgement change that made them insured (its date is the 取得日)."""
    out: dict[str, EligibilityChange] = {}
    ids = sorted(person_ids)
    for i in range(0, len(ids), 500):
        for c in session.execute(select(EligibilityChange).where(
                EligibilityChange.tenant_id == tenant_id, EligibilityChange.insured.is_(True),
                EligibilityChange.insured_person_id.in_(ids[i:i + 500])).order_by(EligibilityChange.as_of)).scalars():
            out[c.insured_person_id] = c
    return out


def all_persons(session: Session, tenant_id: str, granted: Collection[str] | None,
                jigyosho_id: str | None) -> Sequence[InsuredPerson]:
    where = [InsuredPerson.tenant_id == tenant_id]
    if granted is not None:
        where.append(InsuredPerson.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(InsuredPerson.jigyosho_id == jigyosho_id)
    return session.execute(select(InsuredPerson).where(*where)
                           .order_by(InsuredPerson.created_at, InsuredPerson.id)).scalars().all()


def persons_by_number_keys(session: Session, tenant_id: str, keys: Collection[str]) -> list[InsuredPerson]:
    """Every person of the tenant holding one of these 被保険者番号 (by hihokensha_key)."""
    out: list[InsuredPerson] = []
    items = sorted(keys)
    for i in range(0, len(items), 500):
        out += session.execute(select(InsuredPerson).where(
            InsuredPerson.tenant_id == tenant_id, InsuredPerson.hihokensha_key.in_(items[i:i + 500]))).scalars()
    return out
