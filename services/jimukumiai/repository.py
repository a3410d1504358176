"""Queries of the jimukumiai service. Every query is scoped by tenant_id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.jimukumiai.models import Member, SpecialEnrolment, WageReport


def member_in_tenant(session: Session, tenant_id: str, member_id: str) -> Member | None:
    return session.execute(
        select(Member).where(Member.tenant_id == tenant_id, Member.id == member_id)
    ).scalar_one_or_none()


def member_by_number(session: Session, tenant_id: str, labour_insurance_number: str) -> Member | None:
    return session.execute(
        select(Member).where(Member.tenant_id == tenant_id,
                             Member.labour_insurance_number == labour_insurance_number)
    ).scalar_one_or_none()


def members_in_tenant(
    session: Session, tenant_id: str, jigyosho_id: str | None, granted: Collection[str] | None, limit: int,
    offset: int, kind: str = "entrusted",
) -> tuple[Sequence[Member], int]:
    """One page of members of `kind`, and the total the filter matches (for the client's pager).
    `granted`: the 事業所 the caller may see (None = all)."""
    where = [Member.tenant_id == tenant_id, Member.kind == kind]
    if jigyosho_id is not None:
        where.append(Member.jigyosho_id == jigyosho_id)
    if granted is not None:
        where.append(Member.jigyosho_id.in_(sorted(granted)))
    total = session.execute(select(func.count()).select_from(Member).where(*where)).scalar_one()
    # id breaks created_at ties, so pages never overlap or skip.
    rows = session.execute(
        select(Member).where(*where).order_by(Member.created_at, Member.id).limit(limit).offset(offset)
    ).scalars().all()
    return rows, total


def wage_report(session: Session, tenant_id: str, member_id: str, fiscal_year: int,
                lock: bool = False) -> WageReport | None:
    """`lock`: with the row lock, so a write compares the version it will update (PostgreSQL)."""
    query = select(WageReport).where(
        WageReport.tenant_id == tenant_id, WageReport.member_id == member_id, WageReport.fiscal_year == fiscal_year)
    return session.execute(query.with_for_update() if lock else query).scalar_one_or_none()


def special_enrolments(session: Session, tenant_id: str, member_id: str) -> Sequence[SpecialEnrolment]:
    return session.execute(select(SpecialEnrolment).where(
        SpecialEnrolment.tenant_id == tenant_id, SpecialEnrolment.member_id == member_id
    ).order_by(SpecialEnrolment.joined_on, SpecialEnrolment.id)).scalars().all()


def special_enrolled(session: Session, tenant_id: str, member_ids: Collection[str], on: date) -> set[str]:
    """Members with a 特別加入 span covering `on`."""
    if not member_ids:
        return set()
    rows = session.execute(select(SpecialEnrolment.member_id).where(
        SpecialEnrolment.tenant_id == tenant_id, SpecialEnrolment.member_id.in_(sorted(member_ids)),
        SpecialEnrolment.joined_on <= on,
        or_(SpecialEnrolment.left_on.is_(None), SpecialEnrolment.left_on > on))).scalars().all()
    return set(rows)
