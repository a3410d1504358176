"""Queries of the accounts service. Every tenant-data query is scoped by tenant_id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.accounts.models import Jigyosho, Notice, Tenant, User


def tenant_by_id(session: Session, tenant_id: str) -> Tenant | None:
    return session.get(Tenant, tenant_id)


def lock_tenant(session: Session, tenant_id: str) -> None:
    """Hold the tenant row until the transaction ends (SELECT … FOR UPDATE; a no-op on SQLite,
    where writers are serialised anyway)."""
    session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


def tenant_by_code(session: Session, code: str) -> Tenant | None:
    return session.execute(select(Tenant).where(Tenant.code == code)).scalar_one_or_none()


def user_in_tenant(session: Session, tenant_id: str, user_id: str) -> User | None:
    return session.execute(
        select(User).where(User.tenant_id == tenant_id, User.id == user_id)
    ).scalar_one_or_none()


def user_by_login(session: Session, tenant_id: str, login_id: str) -> User | None:
    return session.execute(
        select(User).where(User.tenant_id == tenant_id, User.login_id == login_id)
    ).scalar_one_or_none()


def users_in_tenant(session: Session, tenant_id: str, limit: int, offset: int) -> tuple[Sequence[User], int]:
    where = [User.tenant_id == tenant_id]
    total = session.execute(select(func.count()).select_from(User).where(*where)).scalar_one()
    rows = session.execute(select(User).where(*where).order_by(User.created_at, User.id)
                           .limit(limit).offset(offset)).scalars().all()
    return rows, total


def jigyosho_in_tenant(session: Session, tenant_id: str, jigyosho_id: str) -> Jigyosho | None:
    return session.execute(
        select(Jigyosho).where(Jigyosho.tenant_id == tenant_id, Jigyosho.id == jigyosho_id)
    ).scalar_one_or_none()


def jigyosho_page(session: Session, tenant_id: str, granted: Collection[str] | None, status: str | None,
                  limit: int, offset: int, q: str | None = None) -> tuple[Sequence[Jigyosho], int]:
    """One page of the 事業所 the caller may see (`granted` None = all of the tenant), optionally
    those whose name, kana or either insurance number contains `q`."""
    where = [Jigyosho.tenant_id == tenant_id]
    if granted is not None:
        where.append(Jigyosho.id.in_(sorted(granted)))
    if status is not None:
        where.append(Jigyosho.status == status)
    if q:
        # Literal text: % and _ typed by a person are not wildcards.
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(or_(*(col.like(pattern, escape="\\") for col in (
            Jigyosho.name, Jigyosho.name_kana, Jigyosho.labour_insurance_number,
            Jigyosho.employment_insurance_office_number))))
    total = session.execute(select(func.count()).select_from(Jigyosho).where(*where)).scalar_one()
    rows = session.execute(select(Jigyosho).where(*where).order_by(Jigyosho.created_at, Jigyosho.id)
                           .limit(limit).offset(offset)).scalars().all()
    return rows, total


def current_notices(session: Session, now: datetime, tenant_id: str | None, everyone: bool) -> Sequence[Notice]:
    """Published and not yet past: for a tenant, those to everyone and those to it."""
    q = select(Notice).where(Notice.published_at <= now, Notice.visible_until > now)
    if not everyone:
        q = q.where(or_(Notice.tenant_id.is_(None), Notice.tenant_id == tenant_id))
    return session.execute(q.order_by(Notice.starts_at, Notice.published_at, Notice.id)).scalars().all()


def all_notices(session: Session, limit: int) -> Sequence[Notice]:
    return session.execute(select(Notice).order_by(Notice.published_at.desc(), Notice.id).limit(limit)).scalars().all()
