"""Queries of the koyo_hoken service. Every query is scoped by tenant_id."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.koyo_hoken.models import InsuredPerson


def insured_person_in_tenant(session: Session, tenant_id: str, person_id: str) -> InsuredPerson | None:
    return session.execute(
        select(InsuredPerson).where(InsuredPerson.tenant_id == tenant_id, InsuredPerson.id == person_id)
    ).scalar_one_or_none()


def insured_persons_in_tenant(
    session: Session, tenant_id: str, jigyosho_id: str | None, granted: Collection[str] | None, limit: int,
    offset: int,
) -> tuple[Sequence[InsuredPerson], int]:
    """One page, and the total the filter matches (for the client's pager). `granted`: the
    事業所 the caller may see (None = all)."""
    where = [InsuredPerson.tenant_id == tenant_id]
    if jigyosho_id is not None:
        where.append(InsuredPerson.jigyosho_id == jigyosho_id)
    if granted is not None:
        where.append(InsuredPerson.jigyosho_id.in_(sorted(granted)))
    total = session.execute(select(func.count()).select_from(InsuredPerson).where(*where)).scalar_one()
    # id breaks created_at ties, so pages never overlap or skip.
    rows = session.execute(
        select(InsuredPerson).where(*where).order_by(InsuredPerson.created_at, InsuredPerson.id)
        .limit(limit).offset(offset)
    ).scalars().all()
    return rows, total
