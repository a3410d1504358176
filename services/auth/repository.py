"""Queries of the auth service."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.auth.models import Credential, TenantRef


def tenant_by_code(session: Session, code: str) -> TenantRef | None:
    return session.execute(select(TenantRef).where(TenantRef.code == code)).scalar_one_or_none()


def credential(session: Session, tenant_id: str, login_id: str) -> Credential | None:
    return session.execute(
        select(Credential).where(Credential.tenant_id == tenant_id, Credential.login_id == login_id)
    ).scalar_one_or_none()
