"""Queries of the accounts service. Every tenant-data query is scoped by tenant_id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.accounts.models import Tenant, User


def tenant_by_id(session: Session, tenant_id: str) -> Tenant | None:
    return session.get(Tenant, tenant_id)


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
