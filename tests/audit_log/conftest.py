"""Audit-log tests: the service's database (migrated like every service's), its signer, and a
way to write events into the chains without NATS when a test is about what happens after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from services.audit_log import service
from services.audit_log.signer import CheckpointSigner
from shared.db import Database
from shared.events import Actor, EventEnvelope
from shared.settings import CommonSettings


@pytest.fixture(scope="session")
def audit_db(settings: CommonSettings) -> Iterator[Database]:
    db = Database(settings.database_url("audit_log"))
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def signer(settings: CommonSettings) -> CheckpointSigner:
    return CheckpointSigner(settings.keys_dir)


@pytest.fixture
def tenant() -> str:
    return str(uuid.uuid4())


def event(tenant_id: str | None, type: str = "roumu.files.file.registered", *, actor: str = "u-1",
          ip: str | None = "192.0.2.10", subject: dict[str, str] | None = None, data: dict[str, Any] | None = None,
          at: datetime | None = None, trace_id: str | None = "req-1") -> EventEnvelope:
    kwargs: dict[str, Any] = {}
    if at is not None:
        kwargs["occurred_at"] = at
    return EventEnvelope(type=type, tenant_id=tenant_id, actor=Actor(kind="user", id=actor, ip=ip),
                         subject=subject or {"file_id": str(uuid.uuid4()), "tenant_id": tenant_id or ""},
                         data=data or {}, trace_id=trace_id, **kwargs)


def store(db: Database, events: Sequence[EventEnvelope], now: datetime | None = None) -> None:
    """Append to the chains as the consumer does (the same function, in one transaction)."""
    with db.transaction() as session:
        service.append(session, events, now or datetime.now(UTC))
