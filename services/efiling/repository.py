"""Queries of the efiling service. Every query is scoped by tenant_id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.efiling.models import Filing


def filing_in_tenant(session: Session, tenant_id: str, filing_id: str) -> Filing | None:
    return session.execute(
        select(Filing).where(Filing.tenant_id == tenant_id, Filing.id == filing_id)
    ).scalar_one_or_none()


def filing_by_idempotency_key(session: Session, tenant_id: str, key: str) -> Filing | None:
    return session.execute(
        select(Filing).where(Filing.tenant_id == tenant_id, Filing.idempotency_key == key)
    ).scalar_one_or_none()
