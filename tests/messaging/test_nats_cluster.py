"""Events through a 3-node JetStream cluster whose nodes are killed (issue 23, item 4).

Three nats-server processes (tests/support/nats_cluster.py) with make run's users and permissions;
the stream at 3 replicas, created as the Kubernetes `stream` Job does (`ops.serve stream`). Two
services' outboxes (accounts, koyo_hoken) are published by the real relay as their own NATS users,
and the real audit_log app consumes everything (batch consumer with its fetch process, inbox,
hash chains). While events flow: kill -9 the stream's leader, wait for the flow to go on, start it
again and wait until it caught up, then kill -9 the new leader (another node). Afterwards: every
outbox event published and in the stream once, applied once by audit_log (inbox and audit entries),
every audit chain verifies, and every replica holds every message."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, Table, create_engine, func, select
from sqlalchemy.orm import Session

from ops.backup.job import RunResult, publish_event
from ops.migrate import migrate
from ops.serve import stream as create_stream
from services.accounts.events import JIGYOSHO_UPDATED
from services.accounts.models import messaging as accounts_messaging
from services.audit_log import service as audit_service
from services.audit_log.signer import CheckpointSigner
from services.koyo_hoken.events import PROCEDURE_CREATED
from services.koyo_hoken.models import messaging as koyo_messaging
from shared.db import Database
from shared.events import SYSTEM, EventEnvelope
from shared.outbox import Messaging
from shared.relay import OutboxRelay
from shared.settings import CommonSettings
from tests.conftest import create_app
from tests.support.databases import TestDatabases
from tests.support.nats_cluster import NatsCluster

pytestmark = pytest.mark.slow

STREAM = "ROUMU_CLUSTER"
SERVICES = ("accounts", "koyo_hoken", "audit_log")
TENANTS = ("t-cluster-1", "t-cluster-2", "t-cluster-3")
PROGRESS = 60  # events audit_log must apply between two faults, so each fault lands mid-flow
PATIENCE = 120.0  # seconds any one step may take before the test gives up (not a timing assertion)


def wait_until(condition: Callable[[], bool], what: str, why: Callable[[], Any] | None = None) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}" + (f": {why()}" if why else ""))
        time.sleep(0.2)


class Publishers:
    """The outboxes of accounts and koyo_hoken, each with its service's relay (its own NATS user),
    running in a thread of their own; `write` adds events as those services' transactions do."""

    def __init__(self, settings: CommonSettings) -> None:
        self.dbs: dict[str, tuple[Database, Messaging]] = {
            "accounts": (Database(settings.database_url("accounts")), accounts_messaging),
            "koyo_hoken": (Database(settings.database_url("koyo_hoken")), koyo_messaging),
        }
        self.relays = [OutboxRelay(name, db, messaging, settings.nats_access(name), settings.nats_stream,
                                   interval=0.05, max_backoff=1.0, stream_replicas=settings.nats_stream_replicas)
                       for name, (db, messaging) in self.dbs.items()]
        self.written = 0
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="cluster-relays", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await asyncio.gather(*(r.run(self._stop) for r in self.relays))

        asyncio.run(main())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        for db, _ in self.dbs.values():
            db.dispose()

    def write(self, n: int) -> None:
        """n events: accounts' and koyo_hoken's in turn, over three tenants (three audit chains each)."""
        for i in range(n):
            k = self.written + i
            service = "accounts" if k % 2 == 0 else "koyo_hoken"
            db, messaging = self.dbs[service]
            kind = JIGYOSHO_UPDATED if service == "accounts" else PROCEDURE_CREATED
            key = "jigyosho_id" if service == "accounts" else "procedure_id"
            event = EventEnvelope(type=kind, tenant_id=TENANTS[k % len(TENANTS)], actor=SYSTEM,
                                  subject={key: f"c-{k}"}, data={"n": k})
            with db.transaction() as s:
                messaging.record(s, event)
        self.written += n
        for r in self.relays:
            r.notify()

    def pending(self) -> int:
        return sum(r.pending_count() for r in self.relays)

    def event_ids(self) -> list[str]:
        out: list[str] = []
        for db, messaging in self.dbs.values():
            with db.engine.connect() as c:
                out += [str(e) for (e,) in c.execute(select(messaging.outbox.c.event_id))]
        return out


class Load:
    """Writes a few events every tick until stopped: the flow the faults land in."""

    def __init__(self, publishers: Publishers) -> None:
        self.publishers = publishers
        self.stopped = threading.Event()
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="cluster-load", daemon=True)

    def _run(self) -> None:
        try:
            while not self.stopped.wait(0.05):
                self.publishers.write(4)
        except BaseException as exc:  # surfaced by the test, not swallowed
            self.errors.append(exc)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._thread.join(30)


def table(engine: Any, name: str) -> Table:
    meta = MetaData()
    meta.reflect(engine, only=[name])
    return meta.tables[name]


class AuditLook:
    def __init__(self, settings: CommonSettings) -> None:
        self.engine = create_engine(settings.database_url("audit_log"))
        self.entries = table(self.engine, "audit_entries")
        self.inbox = table(self.engine, "inbox")

    def applied(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(self.entries)).scalar_one())

    def entry_ids(self) -> Counter[str]:
        with self.engine.connect() as c:
            return Counter(str(e) for (e,) in c.execute(select(self.entries.c.event_id)))

    def inbox_ids(self) -> Counter[str]:
        with self.engine.connect() as c:
            return Counter(str(e) for (e,) in c.execute(
                select(self.inbox.c.event_id).where(self.inbox.c.consumer == "audit_log-all")))


def stream_ids(cluster: NatsCluster) -> Counter[str]:
    """The Nats-Msg-Id of every message in the stream (the relay sets it to the event id)."""
    from nats.js.api import DeliverPolicy

    from shared.nats_client import connect

    async def go() -> Counter[str]:
        nc = await connect(cluster.admin(), "tests-cluster-read", max_reconnect_attempts=0)
        try:
            js = nc.jetstream()
            total = (await js.stream_info(STREAM)).state.messages
            sub = await js.subscribe(">", stream=STREAM, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
            ids: Counter[str] = Counter()
            for _ in range(total):
                msg = await sub.next_msg(timeout=10)
                ids[(msg.headers or {}).get("Nats-Msg-Id", "")] += 1
            await sub.unsubscribe()
            return ids
        finally:
            await nc.close()

    return asyncio.run(go())


@pytest.fixture
def cluster(tmp_path: Path, session_keys: Path) -> Iterator[NatsCluster]:
    c = NatsCluster(tmp_path / "nats", session_keys, STREAM)
    c.start()
    yield c
    c.stop()
    # Every process stayed within its NATS user's permissions (as the session's server checks).
    refused = [line for n in c.nodes for line in (n.server.store_dir / "server.log").read_text(errors="replace")
               .splitlines() if "Publish Violation" in line or "Subscription Violation" in line]
    assert not refused, "NATS refused a process:\n" + "\n".join(refused[:20])


@pytest.fixture
def cluster_settings(tmp_path: Path, session_keys: Path, cluster: NatsCluster) -> Iterator[CommonSettings]:
    dbs = TestDatabases(tmp_path)
    for name in SERVICES:
        if dbs.is_postgres:
            dbs.create(f"{dbs.prefix}_{name}")
    s = CommonSettings(var_dir=tmp_path, keys_dir=session_keys, nats_url=cluster.url,
                       database_url_template=dbs.template(), nats_stream=STREAM, nats_stream_replicas=3,
                       relay_interval_seconds=0.05, log_level="WARNING")
    migrate(list(SERVICES), settings=s)
    yield s
    dbs.drop_all()


def all_current(cluster: NatsCluster) -> bool:
    """The stream has a leader and every other replica is online, current and not lagging."""
    state = cluster.stream_cluster(STREAM)
    replicas = state.get("replicas", {})
    return len(replicas) == 2 and all(r["current"] and not r["offline"] and r["lag"] == 0
                                      for r in replicas.values())


def test_no_event_lost_or_applied_twice_while_cluster_nodes_are_killed(
        cluster: NatsCluster, cluster_settings: CommonSettings) -> None:
    settings = cluster_settings
    figures: dict[str, Any] = {}

    # What the Kubernetes `stream` Job does once the cluster is up (it elects a meta leader first).
    def stream_ready() -> bool:
        try:
            create_stream(settings)
            return True
        except Exception:
            return False

    wait_until(stream_ready, "the stream to be created on the new cluster")
    wait_until(lambda: all_current(cluster), "all three replicas of the stream",
               lambda: cluster.stream_cluster(STREAM))
    assert cluster.stream_cluster(STREAM)["num_replicas"] == 3

    publishers = Publishers(settings)
    publishers.start()
    audit = AuditLook(settings)
    app = TestClient(create_app("audit_log", settings), raise_server_exceptions=False)
    killed: list[str] = []
    try:
        with app, Load(publishers) as load:
            def progress(after: int) -> None:
                wait_until(lambda: audit.applied() >= after + PROGRESS, f"{PROGRESS} events applied after {after}",
                           lambda: (audit.applied(), publishers.written, publishers.pending(), load.errors))

            progress(0)
            first = cluster.stream_cluster(STREAM).get("leader") or "n1"
            at = audit.applied()
            cluster.kill(first)
            killed.append(first)
            progress(at)

            cluster.restart(first)
            wait_until(lambda: all_current(cluster), f"{first} back and caught up",
                       lambda: cluster.stream_cluster(STREAM))

            leader = cluster.stream_cluster(STREAM).get("leader")
            second = leader if leader and leader != first else next(n.name for n in cluster.nodes if n.name != first)
            at = audit.applied()
            cluster.kill(second)
            killed.append(second)
            progress(at)
            assert not load.errors, load.errors

            # The flow stops; the second node comes back too, so every replica can be compared.
            load.stopped.set()
            cluster.restart(second)
            wait_until(lambda: publishers.pending() == 0, "every outbox event published",
                       lambda: publishers.pending())
            total = publishers.written
            wait_until(lambda: audit.applied() >= total, f"audit_log to apply all {total} events",
                       lambda: (audit.applied(), total))
            wait_until(lambda: all_current(cluster), "every replica caught up",
                       lambda: cluster.stream_cluster(STREAM))
            # Past the consumer's ack wait and a few more fetches: a redelivery would show as a second entry.
            time.sleep(3)
    finally:
        publishers.stop()

    events = publishers.event_ids()
    assert len(events) == publishers.written == len(set(events))

    # Every event in the stream exactly once (the relay's retries fall in the duplicate window).
    in_stream = stream_ids(cluster)
    lost = [e for e in events if e not in in_stream]
    assert not lost, f"{len(lost)} events never reached the stream, e.g. {lost[:5]}"
    assert sum(in_stream.values()) == len(events), "the stream holds messages twice or not from the outboxes"
    state = cluster.stream_cluster(STREAM)
    assert state["messages"] == len(events) and all_current(cluster), state

    # Applied exactly once by audit_log: one inbox row and one audit entry per event.
    inbox, entries = audit.inbox_ids(), audit.entry_ids()
    assert not [e for e in events if inbox[e] != 1], "audit_log's inbox misses events"
    twice = {e: n for e, n in entries.items() if n != 1}
    assert not twice, f"events recorded more than once: {list(twice.items())[:5]}"
    assert not [e for e in events if entries[e] != 1], "events missing from the audit log"

    # Every audit chain verifies.
    keys = CheckpointSigner(settings.keys_dir).verifier_keys()
    with Session(audit.engine) as session:
        heads = session.execute(select(audit_service.HEADS.c.tenant_id, audit_service.HEADS.c.category)).all()
        reports = [audit_service.verify_chain(session, (t, c), keys) for t, c in heads]
    audit.engine.dispose()
    assert reports and not [(r.category, r.mismatch) for r in reports if r.mismatch is not None]

    # A backup run brings the stream to today's configuration as `ops` (ops/backup/job.py): the
    # configured replicas stay (it once applied the default, 1, which would have shrunk the stream).
    assert publish_event(settings, RunResult("roumu-cluster-check", ok=False, created_at=datetime.now(UTC),
                                             stage="test", error="none"))
    assert cluster.stream_cluster(STREAM).get("num_replicas") == 3

    figures.update({"events": len(events), "lost": len(lost), "applied twice": len(twice),
                    "stream messages": sum(in_stream.values()), "nodes killed (-9)": killed,
                    "audit chains verified": len(reports), "replicas": state["num_replicas"]})
    print(f"\nNATS cluster run: {figures}")
