"""Queries of the shakai_hoken service: every one scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.shakai_hoken.models import BonusRow, Enrolment, PersonRef, ShahoOffice, StandardRemuneration


def office(session: Session, tenant_id: str, jigyosho_id: str) -> ShahoOffice | None:
    return session.get(ShahoOffice, (tenant_id, jigyosho_id))


def person_ref(session: Session, tenant_id: str, person_id: str) -> PersonRef | None:
    return session.get(PersonRef, (tenant_id, person_id))


def enrolment(session: Session, tenant_id: str, enrolment_id: str) -> Enrolment | None:
    e = session.get(Enrolment, enrolment_id)
    return e if e is not None and e.tenant_id == tenant_id else None


def open_enrolment_of(session: Session, tenant_id: str, person_id: str) -> Enrolment | None:
    return session.scalars(select(Enrolment).where(
        Enrolment.tenant_id == tenant_id, Enrolment.insured_person_id == person_id,
        Enrolment.lost_on.is_(None))).first()


def enrolments(session: Session, tenant_id: str, jigyosho_id: str | None, jigyosho_ids: frozenset[str] | None,
               limit: int, offset: int) -> tuple[Sequence[Enrolment], int]:
    q = select(Enrolment).where(Enrolment.tenant_id == tenant_id)
    if jigyosho_id is not None:
        q = q.where(Enrolment.jigyosho_id == jigyosho_id)
    if jigyosho_ids is not None:
        q = q.where(Enrolment.jigyosho_id.in_(jigyosho_ids))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Enrolment.created_at, Enrolment.id).limit(limit).offset(offset)).all()
    return rows, total


def grades(session: Session, enrolment_id: str) -> Sequence[StandardRemuneration]:
    return session.scalars(select(StandardRemuneration).where(StandardRemuneration.enrolment_id == enrolment_id)
                           .order_by(StandardRemuneration.effective_from)).all()


def grade_in_force(session: Session, enrolment_id: str, on: date) -> StandardRemuneration | None:
    return session.scalars(select(StandardRemuneration).where(
        StandardRemuneration.enrolment_id == enrolment_id, StandardRemuneration.effective_from <= on)
        .order_by(StandardRemuneration.effective_from.desc())).first()


def bonuses(session: Session, enrolment_id: str) -> Sequence[BonusRow]:
    return session.scalars(select(BonusRow).where(BonusRow.enrolment_id == enrolment_id)
                           .order_by(BonusRow.paid_on, BonusRow.created_at)).all()
