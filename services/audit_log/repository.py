"""Queries of the audit-log service: always within one tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.audit_log.models import AuditEntry


def entries(session: Session, tenant_id: str, *, event_type: str | None, after: int, limit: int
            ) -> Sequence[AuditEntry]:
    q = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq > after)
    if event_type:
        q = q.where(AuditEntry.type == event_type)
    return session.execute(q.order_by(AuditEntry.seq).limit(limit)).scalars().all()
