"""A batch consumer whose fetching and acking run in a child process (shared/fetch_process.py),
against a real nats-server and a real database: every event applied once and acked, the child
replaced when it dies, gone when its parent goes, and a backlog applied in larger transactions."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence

import pytest
from sqlalchemy.orm import Session

from shared.consumer import FETCH_AHEAD, EventConsumer
from shared.db import Database
from shared.events import SYSTEM, EventEnvelope
from shared.fetch_process import STOP_WAIT_S, FetchProcess, FetchSpec
from shared.nats_client import NatsAccess, connect, ensure_stream
from tests.messaging.conftest import effect_count, messaging, record_effect, run_until
from tests.support.nats_server import NatsServer, free_port
from tests.support.processes import alive

pytestmark = pytest.mark.slow

STREAM = "ROUMU_T_FETCH"


def event(n: int) -> EventEnvelope:
    return EventEnvelope(type="roumu.test.thing.happened", tenant_id="t1", actor=SYSTEM,
                         subject={"thing_id": f"thing-{n}"}, data={"n": n})


async def publish(url: str, events: Sequence[EventEnvelope]) -> None:
    nc = await connect(url, "publisher", max_reconnect_attempts=0)
    js = nc.jetstream()
    await ensure_stream(js, STREAM)
    for e in events:
        await js.publish(e.type, e.to_json(), stream=STREAM, headers={"Nats-Msg-Id": e.id})
    await nc.close()


async def consumer_state(url: str, durable: str) -> tuple[int, int, int]:
    """(pending, ack pending, max_ack_pending) of a durable."""
    nc = await connect(url, "inspect", max_reconnect_attempts=0)
    info = await nc.jetstream().consumer_info(STREAM, durable)
    await nc.close()
    return info.num_pending, info.num_ack_pending, int(info.config.max_ack_pending or 0)


class Recording:
    """The batch handler: the effect of each event, and the size of each transaction."""

    def __init__(self, pause_s: float = 0.0) -> None:
        self.sizes: list[int] = []
        self.pause_s = pause_s

    def __call__(self, session: Session, events: Sequence[EventEnvelope]) -> None:
        self.sizes.append(len(events))
        for e in events:
            record_effect(session, e)
        time.sleep(self.pause_s)  # a slow store: the backlog grows meanwhile


def batch_consumer(db: Database, url: str, handler: Recording, batch: int, durable: str = "fetched") -> EventConsumer:
    return EventConsumer(durable, "roumu.test.>", record_effect, db, messaging, url, STREAM, ack_wait=30,
                         batch=batch, batch_handler=handler, fetch_process=True)


def test_every_event_is_applied_once_and_acked_and_the_child_ends_with_the_consumer(db, own_nats: NatsServer):
    events = [event(n) for n in range(40)]
    consumer = batch_consumer(db, own_nats.url, Recording(), batch=10)

    async def scenario() -> int:
        await publish(own_nats.url, events[:25])
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        await run_until(lambda: effect_count(db) == 25, stop)
        await publish(own_nats.url, events[25:])  # while it runs
        await run_until(lambda: effect_count(db) == 40, stop)
        child = consumer.fetch_child
        assert child is not None and child.pid is not None and child.pid != os.getpid()
        pid = child.pid
        # The acks were sent by the child: nothing is left pending or unacked.
        for _ in range(50):
            if (await consumer_state(own_nats.url, "fetched"))[:2] == (0, 0):
                break
            await asyncio.sleep(0.1)
        assert (await consumer_state(own_nats.url, "fetched"))[:2] == (0, 0)
        stop.set()
        await task
        return pid

    pid = asyncio.run(scenario())
    assert not alive(pid)
    assert all(effect_count(db, e.id) == 1 for e in events)


def test_a_killed_child_is_replaced_and_nothing_is_applied_twice(db, own_nats: NatsServer):
    consumer = batch_consumer(db, own_nats.url, Recording(), batch=10)

    async def scenario() -> None:
        await publish(own_nats.url, [event(n) for n in range(20)])
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        await run_until(lambda: effect_count(db) == 20, stop)
        assert consumer.fetch_child is not None and consumer.fetch_child.pid is not None
        first = consumer.fetch_child.pid
        os.kill(first, signal.SIGKILL)
        await publish(own_nats.url, [event(n) for n in range(20, 35)])
        await run_until(lambda: effect_count(db) == 35, stop)
        assert consumer.fetch_child is not None and consumer.fetch_child.pid not in (None, first)
        stop.set()
        await task

    asyncio.run(scenario())
    assert effect_count(db) == 35


def test_the_child_exits_when_its_parent_is_killed(own_nats: NatsServer, tmp_path):
    """A parent killed with SIGKILL cannot stop its child: the child sees its stdin close."""
    parent = textwrap.dedent(f"""
        import asyncio, sys
        from shared.fetch_process import FetchProcess, FetchSpec
        from shared.nats_client import NatsAccess
        async def main():
            child = FetchProcess(FetchSpec(nats=NatsAccess({own_nats.url!r}), stream={STREAM!r}, durable="orphan",
                                           filter_subject="roumu.test.>", batch=10, ack_wait=30, max_deliver=-1,
                                           max_ack_pending=100))
            await child.start()
            print(child.pid, flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        child_pid = int(proc.stdout.readline())
        assert alive(child_pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 15
        while alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(child_pid)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_backlog_is_applied_in_larger_transactions(db, own_nats: NatsServer):
    """While the store is slow, the child merges the batches it fetched meanwhile into one frame,
    up to the durable's window of unacked messages, which it widens on a durable made before."""
    batch = 5
    handler = Recording(pause_s=0.2)
    events = [event(n) for n in range(60)]

    async def scenario() -> None:
        # The durable exists already, as the in-process consumer made it (the server's default window).
        plain = EventConsumer("fetched", "roumu.test.>", record_effect, db, messaging, own_nats.url, STREAM)
        await plain.subscribe()
        await plain.close()
        assert (await consumer_state(own_nats.url, "fetched"))[2] != FETCH_AHEAD * batch
        await publish(own_nats.url, events)
        consumer = batch_consumer(db, own_nats.url, handler, batch=batch)
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        await run_until(lambda: effect_count(db) == len(events), stop)
        assert (await consumer_state(own_nats.url, "fetched"))[2] == FETCH_AHEAD * batch
        stop.set()
        await task

    asyncio.run(scenario())
    assert all(effect_count(db, e.id) == 1 for e in events)
    assert sum(handler.sizes) == len(events)
    assert max(handler.sizes) > batch, handler.sizes
    assert max(handler.sizes) <= FETCH_AHEAD * batch


def test_a_failing_event_is_retried_alone_while_its_batch_goes_through(db, own_nats: NatsServer):
    """The batch fails, is applied one message at a time in this process (acks and naks from the
    parent's own connection), and the bad event succeeds on a later delivery."""
    events = [event(n) for n in range(8)]
    bad = events[3].id
    failing = {"on": True}

    class Flaky(Recording):
        def __call__(self, session: Session, batch: Sequence[EventEnvelope]) -> None:
            if failing["on"] and any(e.id == bad for e in batch):
                raise RuntimeError("store refused")
            super().__call__(session, batch)

    def record_or_fail(session: Session, e: EventEnvelope) -> None:
        if failing["on"] and e.id == bad:
            raise RuntimeError("store refused")
        record_effect(session, e)

    consumer = EventConsumer("fetched", "roumu.test.>", record_or_fail, db, messaging, own_nats.url, STREAM,
                             ack_wait=30, batch=10, batch_handler=Flaky(), fetch_process=True)

    async def scenario() -> None:
        await publish(own_nats.url, events)
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        await run_until(lambda: effect_count(db) == 7, stop)
        assert effect_count(db, bad) == 0
        failing["on"] = False  # redelivered after the nak's delay
        await run_until(lambda: effect_count(db, bad) == 1, stop)
        stop.set()
        await task

    asyncio.run(scenario())
    assert all(effect_count(db, e.id) == 1 for e in events)


def test_a_child_still_connecting_ends_when_its_input_closes():
    """A child whose NATS is unreachable keeps trying to connect; the end of its input still ends it,
    by itself (not killed), so a service stopped meanwhile leaves nothing behind."""
    unreachable = f"nats://127.0.0.1:{free_port()}"

    async def scenario() -> int | None:
        child = FetchProcess(FetchSpec(nats=NatsAccess(unreachable), stream=STREAM, durable="never",
                                       filter_subject="roumu.test.>", batch=10, ack_wait=30, max_deliver=-1,
                                       max_ack_pending=100))
        await child.start()
        pid = child.pid
        assert pid is not None
        await asyncio.sleep(1.5)  # started, importing and connecting
        assert alive(pid)
        proc = child._proc
        assert proc is not None
        started = time.monotonic()
        await child.stop()
        assert time.monotonic() - started < STOP_WAIT_S
        assert not alive(pid)
        return proc.returncode

    assert asyncio.run(scenario()) != -signal.SIGKILL
