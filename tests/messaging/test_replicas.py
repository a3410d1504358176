"""Consumers and the relay under two replicas of a service (issue 23), against a real nats-server
and a real database.

* A *work* consumer (every durable in shared/topology.CONSUMES) is one durable pull consumer that
  the replicas share: JetStream hands each message to one of them, the inbox makes a redelivery
  harmless. Two replicas, one of them stopped half-way: every event applied exactly once.
* A *read-model* consumer keeps a view in each process's memory (shared/revocation.py): each
  replica has its own ephemeral consumer, and every replica's view converges, a replica started
  later included.
* The relay: the replica holding the advisory lock publishes; when it is killed (SIGKILL, its
  database session dies with it) the other takes over, and every event reaches the stream once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.consumer import EventConsumer
from shared.events import SYSTEM, EventEnvelope
from shared.nats_client import connect, ensure_stream
from shared.relay import OutboxRelay, _lock_key
from shared.revocation import SESSION_REVOKED, RevokedSessions
from shared.topology import CONSUMES, PER_PROCESS_FEEDS
from tests.messaging.conftest import effect_count, messaging, record_effect, run_until, write_event
from tests.messaging.test_delivery import stream_messages

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_the_per_process_feeds_listed_are_the_ones_the_code_subscribes_to():
    from gateway.refusals import TENANT_SETTINGS_CHANGED

    assert PER_PROCESS_FEEDS["revocations"][0] == SESSION_REVOKED
    assert PER_PROCESS_FEEDS["tenant-settings"][0] == TENANT_SETTINGS_CHANGED
    # A per-process feed is never also a shared durable (it would then be applied by one replica only).
    durables = {subject for consumers in CONSUMES.values() for _, subject in consumers}
    assert not {subject for subject, _ in PER_PROCESS_FEEDS.values()} & durables


def test_two_replicas_of_a_work_consumer_apply_every_event_once(db, own_nats):
    stream = "ROUMU_T_REPLICAS"
    applied_by: Counter[str] = Counter()

    def replica(name: str) -> EventConsumer:
        def handle(session, event: EventEnvelope) -> None:
            record_effect(session, event)
            applied_by[name] += 1
        # The same durable in both: what two processes of one service create.
        return EventConsumer("svc-effects", "roumu.test.>", handle, db, messaging, own_nats.url, stream,
                             ack_wait=2, batch=10)

    relay = OutboxRelay("test", db, messaging, own_nats.url, stream, interval=0.05)

    async def scenario() -> None:
        stop, stop_a = asyncio.Event(), asyncio.Event()
        tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(replica("a").run(stop_a)),
                 asyncio.create_task(replica("b").run(stop))]
        first = [write_event(db, n) for n in range(100)]
        await run_until(lambda: effect_count(db) >= 50, stop)
        stop_a.set()  # replica a shuts down half-way: what it fetched it applies and acks, or leaves
        await tasks[1]
        second = [write_event(db, n) for n in range(100, 200)]
        events = first + second
        await run_until(lambda: effect_count(db) >= len(events), stop)
        await asyncio.sleep(2.5)  # past ack_wait: a redelivery would show up as a second effect
        stop.set()
        await asyncio.gather(*tasks)
        assert effect_count(db) == len(events)
        assert all(effect_count(db, e.id) == 1 for e in events)

    asyncio.run(scenario())
    assert sum(applied_by.values()) == 200
    print(f"\nwork consumer, two replicas: applied by a {applied_by['a']}, by b {applied_by['b']}, "
          f"200 events, 0 twice")


def test_every_replicas_revocation_view_converges(own_nats):
    stream = "ROUMU_T_REVOKE"
    sids = [f"sid-{uuid.uuid4().hex[:8]}" for _ in range(20)]

    async def publish(ids: list[str]) -> None:
        nc = await connect(own_nats.url, "publisher", max_reconnect_attempts=0)
        js = nc.jetstream()
        await ensure_stream(js, stream)
        for sid in ids:
            event = EventEnvelope(type=SESSION_REVOKED, tenant_id="t1", actor=SYSTEM, subject={"session_id": sid})
            await js.publish(SESSION_REVOKED, event.model_dump_json().encode(), stream=stream,
                             headers={"Nats-Msg-Id": event.id})
        await nc.close()

    async def scenario() -> None:
        stop = asyncio.Event()
        a, b = RevokedSessions(own_nats.url, stream), RevokedSessions(own_nats.url, stream)
        tasks = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
        await run_until(lambda: a.ready and b.ready, stop)
        await publish(sids[:10])
        await run_until(lambda: all(v.is_revoked(s) for v in (a, b) for s in sids[:10]), stop)
        # A replica started now (a restart) replays what is still relevant, then follows.
        late = RevokedSessions(own_nats.url, stream)
        tasks.append(asyncio.create_task(late.run(stop)))
        await run_until(lambda: late.ready, stop)
        assert all(late.is_revoked(s) for s in sids[:10])
        await publish(sids[10:])
        await run_until(lambda: all(v.is_revoked(s) for v in (a, b, late) for s in sids), stop)
        assert not any(v.is_revoked("sid-never") for v in (a, b, late))
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


def test_when_the_relay_leader_is_killed_the_other_replica_publishes_every_event_once(db, own_nats, test_dbs):
    if not test_dbs.is_postgres:
        pytest.skip("SQLite: one process per database file, no leader lock (runs in make test-pg)")
    stream = "ROUMU_T_LEADER"
    service = f"svc-{uuid.uuid4().hex[:6]}"
    url = db.engine.url.render_as_string(hide_password=False)
    leader = subprocess.Popen([sys.executable, "-m", "tests.messaging.relay_process", url, own_nats.url, stream,
                               service], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    follower = OutboxRelay(service, db, messaging, own_nats.url, stream, interval=0.05, max_backoff=0.5)
    key = _lock_key(service)

    def lock_holder() -> int | None:
        with db.engine.connect() as c:
            return c.execute(text("SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                                  "WHERE l.locktype = 'advisory' AND l.granted AND "
                                  "(l.classid::bigint << 32 | l.objid::bigint) = :k"), {"k": key}).scalar()

    async def scenario() -> None:
        stop = asyncio.Event()
        # The process is the leader before the follower starts.
        await run_until(lambda: lock_holder() is not None, stop, limit_s=60)
        leader_backend = lock_holder()
        task = asyncio.create_task(follower.run(stop))
        before = [write_event(db, n) for n in range(50)]
        await run_until(lambda: follower.pending_count() == 0, stop)
        assert follower._leader_conn is None  # the process published those, not the follower

        os.killpg(leader.pid, signal.SIGKILL)  # the leader dies without a word
        leader.wait()
        after = [write_event(db, n) for n in range(50, 100)]
        await run_until(lambda: follower.pending_count() == 0, stop, limit_s=60)
        assert lock_holder() not in (None, leader_backend)  # the follower holds the lock now
        stop.set()
        await task

        published = await stream_messages(own_nats.url, stream)
        ids = Counter(e.id for e in published)
        assert set(ids) == {e.id for e in before + after}
        assert max(ids.values()) == 1  # none twice, none lost

    try:
        asyncio.run(scenario())
    finally:
        if leader.poll() is None:
            os.killpg(leader.pid, signal.SIGKILL)
            leader.wait()
