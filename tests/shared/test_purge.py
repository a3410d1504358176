"""The generic tenant purge (shared/purge.py) on a schema of its own, on the test database:
the tenant's rows, the rows linked to them by id (one hop), and the tenant's published outbox rows
go; another tenant's rows, unpublished outbox rows and the lifecycle events stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, func, insert, select

from shared.db import Database
from shared.events import SYSTEM, EventEnvelope
from shared.outbox import Messaging
from shared.purge import PURGE_REQUESTED, TenantPurge
from tests.support.databases import TestDatabases

metadata = MetaData()
messaging = Messaging(metadata)
things = Table("things", metadata, Column("id", Integer, primary_key=True), Column("tenant_id", String(36)))
notes = Table("notes", metadata, Column("n", Integer, primary_key=True), Column("tenant_id", String(36)),
              Column("user_id", String(36)), Column("thing_id", Integer, ForeignKey("things.id"), nullable=True))
# No tenant_id: linked by the singular of an owner table with an `id` key, or by a column an owner has.
thing_tags = Table("thing_tags", metadata, Column("n", Integer, primary_key=True), Column("thing_id", Integer),
                   Column("tag", String(20)))
user_history = Table("user_history", metadata, Column("n", Integer, primary_key=True), Column("user_id", String(36)))

GONE, KEPT = "tenant-gone", "tenant-kept"


def count(db: Database, table: Table, *where: object) -> int:
    with db.sessions() as s:
        return int(s.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


def test_purge_deletes_the_tenant_and_what_points_at_it_and_nothing_else(test_dbs: TestDatabases) -> None:
    db = Database(test_dbs.create(f"purge_{uuid.uuid4().hex[:8]}"))
    try:
        metadata.create_all(db.engine)
        now = datetime.now(UTC)
        with db.transaction() as s:
            s.execute(insert(things), [{"id": 1, "tenant_id": GONE}, {"id": 2, "tenant_id": GONE},
                                       {"id": 3, "tenant_id": KEPT}])
            s.execute(insert(notes), [{"n": 1, "tenant_id": GONE, "user_id": "u-gone", "thing_id": 1},
                                      {"n": 2, "tenant_id": GONE, "user_id": None, "thing_id": None},
                                      {"n": 3, "tenant_id": KEPT, "user_id": "u-kept", "thing_id": 3}])
            s.execute(insert(thing_tags), [{"thing_id": 1, "tag": "a"}, {"thing_id": 2, "tag": "b"},
                                           {"thing_id": 3, "tag": "c"}, {"thing_id": 99, "tag": "orphan"}])
            s.execute(insert(user_history), [{"user_id": "u-gone"}, {"user_id": "u-gone"}, {"user_id": "u-kept"}])
            for tenant, published in ((GONE, True), (GONE, False), (KEPT, True), (None, True)):
                e = (EventEnvelope(type=PURGE_REQUESTED, tenant_id=None, actor=SYSTEM, subject={"tenant_id": GONE})
                     if tenant is None else EventEnvelope(type="roumu.test.thing.happened", tenant_id=tenant,
                                                          actor=SYSTEM, subject={"thing_id": "1"}))
                messaging.record(s, e)
                if published:
                    s.execute(messaging.outbox.update().where(messaging.outbox.c.event_id == e.id)
                              .values(published_at=now))

        with db.transaction() as s:
            counts = TenantPurge("test", messaging).purge(s, GONE)

        assert counts["things"] == 2 and counts["notes"] == 2
        assert counts["thing_tags"] == 2 and counts["user_history"] == 2
        assert counts["outbox"] == 1  # the published event of the tenant; its unpublished one waits for the relay
        assert count(db, things) == 1 and count(db, notes) == 1
        assert count(db, thing_tags) == 2  # the kept tenant's and the orphan
        assert count(db, user_history, user_history.c.user_id == "u-kept") == 1
        assert count(db, user_history) == 1
        payloads = [r.payload for r in db.engine.connect().execute(select(messaging.outbox.c.payload))]
        assert sorted((p["type"], p["tenant_id"]) for p in payloads) == sorted([
            ("roumu.test.thing.happened", GONE), ("roumu.test.thing.happened", KEPT), (PURGE_REQUESTED, None)])
    finally:
        db.dispose()
