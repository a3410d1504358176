"""Use cases of the audit-log service."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from services.audit_log.models import AuditEntry
from shared.events import EventEnvelope
from shared.logging import redact


def record(session: Session, event: EventEnvelope) -> None:
    """Store an event as received. Events carry no secrets by contract; redact() is a second guard."""
    session.add(AuditEntry(
        event_id=event.id, tenant_id=event.tenant_id, type=event.type, actor_kind=event.actor.kind,
        actor_id=event.actor.id[:64], actor_ip=event.actor.ip, subject=dict(event.subject),
        data=redact(event.data), trace_id=event.trace_id, occurred_at=event.occurred_at,
        recorded_at=datetime.now(UTC),
    ))
