"""Delivery guarantees of the outbox → relay → JetStream → consumer path, against a real
nats-server that the tests stop, restart and cut off, and a real database."""

from __future__ import annotations

import asyncio

import pytest
from nats.js.api import ConsumerConfig

from shared.consumer import EventConsumer
from shared.events import SYSTEM, EventEnvelope
from shared.nats_client import connect, ensure_stream
from shared.relay import OutboxRelay
from tests.messaging.conftest import effect_count, messaging, record_effect, run_until, write_event

pytestmark = pytest.mark.slow


async def stream_messages(url: str, stream: str, subject: str = "roumu.test.>") -> list[EventEnvelope]:
    nc = await connect(url, "inspect", max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        sub = await js.pull_subscribe(subject, stream=stream, config=ConsumerConfig(inactive_threshold=5))
        out: list[EventEnvelope] = []
        while len(out) < info.state.messages:
            try:
                msgs = await sub.fetch(100, timeout=1)
            except Exception:
                break
            for m in msgs:
                out.append(EventEnvelope.from_json(m.data))
                await m.ack()
        return out
    finally:
        await nc.close()


def test_event_written_while_nats_down_is_delivered_exactly_once(db, own_nats):
    stream = "ROUMU_T_DOWN"
    consumer = EventConsumer("effects", "roumu.test.>", record_effect, db, messaging, own_nats.url, stream,
                             ack_wait=2)
    relay = OutboxRelay("test", db, messaging, own_nats.url, stream, interval=0.05, max_backoff=0.5)

    async def scenario() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(consumer.run(stop))]
        first = write_event(db, 1)
        await run_until(lambda: effect_count(db, first.id) == 1, stop)

        own_nats.stop()  # the broker goes away with the relay and the consumer connected
        during = [write_event(db, n) for n in range(2, 7)]
        await asyncio.sleep(1.0)  # the relay tries, fails and backs off meanwhile
        assert relay.pending_count() == len(during)  # kept, not lost

        own_nats.start()  # same port, same JetStream store
        await run_until(lambda: all(effect_count(db, e.id) == 1 for e in during), stop)
        await asyncio.sleep(2.5)  # past ack_wait: a redelivery would show up as a second effect
        stop.set()
        await asyncio.gather(*tasks)

        assert relay.pending_count() == 0
        assert effect_count(db) == 1 + len(during)
        published = await stream_messages(own_nats.url, stream)
        ids = [e.id for e in published]
        assert len(ids) == len(set(ids)) == 1 + len(during)
        # Order of publication follows commit order.
        assert [e.data["n"] for e in published] == list(range(1, 7))

    asyncio.run(scenario())


def test_consumer_killed_after_effect_before_ack_applies_once(db, own_nats):
    stream = "ROUMU_T_KILL"
    relay = OutboxRelay("test", db, messaging, own_nats.url, stream)

    async def scenario() -> None:
        event = write_event(db, 1)
        assert await relay.publish_pending() == 1
        await relay._drop_connection()

        # First consumer: applies the effect (committed with its inbox row), then its
        # connection dies before the ack — the same as a process killed at that point.
        doomed = EventConsumer("effects", "roumu.test.>", record_effect, db, messaging, own_nats.url, stream,
                               ack_wait=1)
        sub = await doomed.subscribe()
        msgs = await sub.fetch(1, timeout=5)
        assert len(msgs) == 1
        assert await asyncio.to_thread(doomed.apply, EventEnvelope.from_json(msgs[0].data)) is True
        await doomed.close()  # no ack was sent
        assert effect_count(db, event.id) == 1

        # A fresh consumer with the same durable name gets the redelivery and skips it.
        survivor = EventConsumer("effects", "roumu.test.>", record_effect, db, messaging, own_nats.url, stream,
                                 ack_wait=1)
        sub2 = await survivor.subscribe()
        redelivered = await sub2.fetch(1, timeout=10)
        assert len(redelivered) == 1
        assert redelivered[0].metadata.num_delivered == 2
        await survivor.process(redelivered[0])
        await survivor.close()
        assert effect_count(db, event.id) == 1

    asyncio.run(scenario())


def test_republished_event_id_is_dropped_by_the_duplicate_window(db, own_nats):
    """A relay that crashed after publishing but before marking the row sends it again."""
    stream = "ROUMU_T_DUP"
    relay = OutboxRelay("test", db, messaging, own_nats.url, stream)

    async def scenario() -> None:
        write_event(db, 1)
        assert await relay.publish_pending() == 1
        with db.transaction() as s:  # as if the "published" mark had never been written
            s.execute(messaging.outbox.update().values(published_at=None))
        assert await relay.publish_pending() == 1
        await relay._drop_connection()
        assert len(await stream_messages(own_nats.url, stream)) == 1

    asyncio.run(scenario())


def test_stream_is_created_idempotently_with_documented_limits(own_nats):
    async def scenario() -> None:
        nc = await connect(own_nats.url, "t", max_reconnect_attempts=0)
        js = nc.jetstream()
        await ensure_stream(js, "ROUMU_T_CFG")
        await ensure_stream(js, "ROUMU_T_CFG")  # a second service starting up
        info = await js.stream_info("ROUMU_T_CFG")
        await nc.close()
        assert info.config.subjects == ["roumu.>"]
        assert str(getattr(info.config.storage, "value", info.config.storage)) == "file"
        assert info.config.duplicate_window >= 120

    asyncio.run(scenario())


def test_events_refuse_secret_fields():
    with pytest.raises(ValueError, match="secrets"):
        EventEnvelope(type="roumu.test.thing.happened", tenant_id="t", actor=SYSTEM, subject={"x": "1"},
                      data={"my_number": "123456789012"})
