"""One relay per service publishes at a time on PostgreSQL (a session advisory lock): a relay whose
lock connection died (the server restarted, the connection was cut) gives up leadership instead of
believing it still leads while another replica holds the lock."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import MetaData, text

from shared.db import Database, is_postgres
from shared.outbox import Messaging
from shared.relay import OutboxRelay
from tests.support.databases import TestDatabases


def test_a_relay_whose_lock_connection_died_is_no_longer_leader(test_dbs: TestDatabases) -> None:
    if not test_dbs.is_postgres:
        pytest.skip("SQLite: one process per database file, no leader lock (runs in make test-pg)")
    database = Database(test_dbs.create(f"relay_{uuid.uuid4().hex[:8]}"))
    try:
        assert is_postgres(database.engine)
        messaging = Messaging(MetaData())
        first = OutboxRelay("svc-lead", database, messaging, "nats://127.0.0.1:1", "UNUSED")
        second = OutboxRelay("svc-lead", database, messaging, "nats://127.0.0.1:1", "UNUSED")
        assert first._is_leader() is True
        assert second._is_leader() is False  # the lock is held

        # The first relay's lock connection is cut, as a server restart does.
        assert first._leader_conn is not None
        pid = first._leader_conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        first._leader_conn.commit()
        with database.engine.connect() as admin:
            # With a timeout it waits until the backend is gone (and its lock released); without one
            # it only signals it, and the next look may still find the lock held.
            admin.execute(text("SELECT pg_terminate_backend(:p, 10000)"), {"p": pid})
            admin.commit()

        assert second._is_leader() is True  # the lock went with the connection
        assert first._is_leader() is False  # and the first one notices instead of publishing too
        second._release_leadership()
        assert first._is_leader() is True
        first._release_leadership()
    finally:
        database.dispose()
