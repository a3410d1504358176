"""Migration 0003 chains the entries recorded before it, in the order they were recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from services.audit_log import service
from services.audit_log.service import ENTRIES, HEADS, TARGETS
from shared.db import Database, UtcDateTime
from shared.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "audit_log" / "migrations"


def test_existing_entries_are_chained_by_the_migration(test_dbs, signer):
    url = test_dbs.create(f"{test_dbs.prefix}_audit_mig_{uuid.uuid4().hex[:6]}")
    upgrade(MIGRATIONS, url, "0002")
    old = sa.table(
        "audit_entries", sa.column("event_id", sa.String()), sa.column("tenant_id", sa.String()),
        sa.column("type", sa.String()), sa.column("actor_kind", sa.String()), sa.column("actor_id", sa.String()),
        sa.column("actor_ip", sa.String()), sa.column("subject", sa.JSON()), sa.column("data", sa.JSON()),
        sa.column("trace_id", sa.String()), sa.column("occurred_at", UtcDateTime()),
        sa.column("recorded_at", UtcDateTime()))
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        ("t-a", "roumu.files.file.registered", {"file_id": "f1", "tenant_id": "t-a", "jigyosho_id": "j1"}),
        ("t-a", "roumu.auth.login.succeeded", {"user_id": "u1", "session_id": "s1"}),
        (None, "roumu.auth.login.failed", {"user_id": "unknown"}),
        ("t-a", "roumu.files.file.registered", {"file_id": "f2", "tenant_id": "t-a"}),
    ]
    db = Database(url)
    try:
        with db.transaction() as s:
            for i, (tenant, type_, subject) in enumerate(rows):
                s.execute(old.insert().values(
                    event_id=str(uuid.uuid4()), tenant_id=tenant, type=type_, actor_kind="user", actor_id="u1",
                    actor_ip=None, subject=subject, data={"i": i}, trace_id=None,
                    occurred_at=t0 + timedelta(minutes=i), recorded_at=t0 + timedelta(minutes=i, seconds=1)))
        db.dispose()
        upgrade(MIGRATIONS, url)
        db = Database(url)
        with db.sessions() as s:
            got = s.execute(sa.select(ENTRIES.c.tenant_id, ENTRIES.c.category, ENTRIES.c.tenant_seq,
                                      ENTRIES.c.jigyosho_id).order_by(ENTRIES.c.seq)).all()
            assert [tuple(r) for r in got] == [("t-a", "operation", 1, "j1"), ("t-a", "login", 1, None),
                                               (None, "login", 1, None), ("t-a", "operation", 2, None)]
            heads = {(h.tenant_id, h.category): h.last_seq for h in s.execute(sa.select(HEADS)).all()}
            assert heads == {("t-a", "operation"): 2, ("t-a", "login"): 1, ("-", "login"): 1}
            assert s.execute(sa.select(sa.func.count()).select_from(TARGETS)).scalar_one() == 6
            assert service.verify_tenant(s, signer, "t-a", datetime.now(UTC)).ok
            assert service.verify_chain(s, ("-", "login"), signer.verifier_keys()).mismatch is None
    finally:
        db.dispose()
