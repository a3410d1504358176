"""Ingest through JetStream with a real nats-server: an event another service published while
audit_log was down is logged once when it comes back, also when the same event is delivered
twice (republished under another message id, or redelivered after a consumer died before its
ack)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, func, select

from services.audit_log import service
from services.audit_log.app import create_app
from services.audit_log.models import messaging as audit_messaging
from services.audit_log.service import ENTRIES
from shared.clock import SYSTEM_CLOCK
from shared.consumer import EventConsumer
from shared.db import Database
from shared.events import EventEnvelope
from shared.nats_client import connect
from shared.outbox import Messaging
from shared.purge import TenantPurge
from shared.relay import OutboxRelay
from shared.settings import CommonSettings
from tests.audit_log.conftest import event
from tests.support.databases import TestDatabases
from tests.support.nats_server import NatsServer

pytestmark = pytest.mark.slow

# "Another service": its own database with an outbox, published by the shared relay.
other_metadata = MetaData()
other_messaging = Messaging(other_metadata)


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def other_db(test_dbs: TestDatabases) -> Iterator[Database]:
    db = Database(test_dbs.create(f"other_{uuid.uuid4().hex[:8]}"))
    other_metadata.create_all(db.engine)
    yield db
    db.dispose()


def wait_until(predicate: Callable[[], bool], limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def publish_from_other_service(db: Database, url: str, stream: str, *events: EventEnvelope) -> None:
    with db.transaction() as s:
        for e in events:
            other_messaging.record(s, e)

    async def run() -> None:
        relay = OutboxRelay("files", db, other_messaging, url, stream)
        assert await relay.publish_pending() == len(events)
        await relay._drop_connection()

    asyncio.run(run())


def publish_again_under_another_id(url: str, stream: str, e: EventEnvelope) -> None:
    """A second delivery the broker's duplicate window cannot drop (a new Nats-Msg-Id)."""
    async def run() -> None:
        nc = await connect(url, "republisher", max_reconnect_attempts=0)
        ack = await nc.jetstream().publish(e.type, e.to_json(), stream=stream,
                                           headers={"Nats-Msg-Id": f"again-{e.id}"})
        assert not ack.duplicate
        await nc.close()

    asyncio.run(run())


def consumer_idle(url: str, stream: str, durable: str) -> bool:
    async def run() -> bool:
        nc = await connect(url, "inspect", max_reconnect_attempts=0)
        try:
            info = await nc.jetstream().consumer_info(stream, durable)
            return bool(info.num_pending == 0 and info.num_ack_pending == 0)
        finally:
            await nc.close()

    return asyncio.run(run())


def count(db: Database, event_id: str) -> int:
    with db.sessions() as s:
        return int(s.execute(select(func.count()).select_from(ENTRIES).where(ENTRIES.c.event_id == event_id))
                   .scalar_one())


def test_event_published_while_audit_log_was_down_is_logged_once(own_nats, other_db, audit_db, settings, signer):
    stream = f"ROUMU_T_AUDIT_{uuid.uuid4().hex[:6].upper()}"
    s: CommonSettings = settings.model_copy(update={"nats_url": own_nats.url, "nats_stream": stream})
    tenant = str(uuid.uuid4())
    first = event(tenant, "roumu.files.file.registered", data={"size": 1})
    publish_from_other_service(other_db, own_nats.url, stream, first)  # audit_log is not running

    with TestClient(create_app(settings=s)):
        wait_until(lambda: count(audit_db, first.id) == 1)

    # Down again: two more events, and the first one delivered a second time.
    later = [event(tenant, "roumu.files.file.registered", data={"size": n}) for n in (2, 3)]
    publish_from_other_service(other_db, own_nats.url, stream, *later)
    publish_again_under_another_id(own_nats.url, stream, first)

    with TestClient(create_app(settings=s)):
        wait_until(lambda: all(count(audit_db, e.id) == 1 for e in later)
                   and consumer_idle(own_nats.url, stream, "audit_log-all"))

    assert [count(audit_db, e.id) for e in [first, *later]] == [1, 1, 1]
    with audit_db.sessions() as session:
        seqs = session.execute(select(ENTRIES.c.event_id, ENTRIES.c.tenant_seq).where(ENTRIES.c.tenant_id == tenant)
                               .order_by(ENTRIES.c.tenant_seq)).all()
        assert [(r.event_id, r.tenant_seq) for r in seqs] == [(first.id, 1), (later[0].id, 2), (later[1].id, 3)]
        assert service.verify_tenant(session, signer, tenant, SYSTEM_CLOCK.now()).ok


def test_batch_redelivered_after_a_consumer_died_before_its_ack_is_applied_once(own_nats, other_db, audit_db):
    stream = f"ROUMU_T_AUDIT_{uuid.uuid4().hex[:6].upper()}"
    tenant = str(uuid.uuid4())
    events = [event(tenant, "roumu.files.file.registered", data={"size": n}) for n in range(5)]
    publish_from_other_service(other_db, own_nats.url, stream, *events)
    recorder = service.Recorder(SYSTEM_CLOCK, TenantPurge("audit_log", audit_messaging))
    durable = f"audit_log-t-{uuid.uuid4().hex[:6]}"

    def consumer() -> EventConsumer:
        return EventConsumer(durable, "roumu.>", recorder.record, audit_db, audit_messaging, own_nats.url, stream,
                             ack_wait=1, batch_handler=recorder.record_batch)

    async def scenario() -> None:
        doomed = consumer()
        sub = await doomed.subscribe()
        msgs = await sub.fetch(10, timeout=5)
        assert len(msgs) == 5
        applied = await asyncio.to_thread(doomed.apply_batch, [EventEnvelope.from_json(m.data) for m in msgs])
        assert applied == 5
        await doomed.close()  # died before acking: every message comes again after ack_wait

        survivor = consumer()
        sub2 = await survivor.subscribe()
        again: list[Any] = []
        while len(again) < 5:
            again += await sub2.fetch(10, timeout=10)
        assert all(m.metadata.num_delivered == 2 for m in again)
        await survivor.process_batch(again)
        await survivor.close()

    asyncio.run(scenario())
    assert [count(audit_db, e.id) for e in events] == [1] * 5
    assert consumer_idle(own_nats.url, stream, durable)
