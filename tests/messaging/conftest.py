"""Fixtures of the delivery tests: a nats-server of the test's own (stopped and restarted by
some), a database of its own, and the "effect" a consumer applies."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from shared.db import Database
from shared.events import SYSTEM, EventEnvelope
from shared.outbox import Messaging
from tests.support.databases import TestDatabases
from tests.support.nats_server import NatsServer

metadata = MetaData()
messaging = Messaging(metadata)
# The "effect" a consumer applies: one row per handled event. Unique on event_id is NOT used
# on purpose: only the inbox may stop a double effect.
effects = Table("effects", metadata, Column("n", Integer, primary_key=True, autoincrement=True),
                Column("event_id", String(36), nullable=False))


@pytest.fixture
def db(test_dbs: TestDatabases) -> Database:
    database = Database(test_dbs.create(f"msg_{uuid.uuid4().hex[:8]}"))
    metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def own_nats(tmp_path: Path) -> NatsServer:
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


def write_event(db: Database, n: int = 0) -> EventEnvelope:
    event = EventEnvelope(type="roumu.test.thing.happened", tenant_id="t1", actor=SYSTEM,
                          subject={"thing_id": f"thing-{n}"}, data={"n": n})
    with db.transaction() as s:
        messaging.record(s, event)
    return event


def record_effect(session, event: EventEnvelope) -> None:
    session.execute(insert(effects).values(event_id=event.id))


def effect_count(db: Database, event_id: str | None = None) -> int:
    q = select(func.count()).select_from(effects)
    if event_id:
        q = q.where(effects.c.event_id == event_id)
    with db.engine.connect() as c:
        return int(c.execute(q).scalar_one())


async def run_until(predicate, tasks_stop: asyncio.Event, limit_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while loop.time() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.1)
    tasks_stop.set()
    raise AssertionError("condition not met in time")
