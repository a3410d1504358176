"""Audit-log ingest from JetStream into the hash-chained store, against a bare nats-py consume of
the same messages in the same run.

A nats-server (from the wheel, file storage, as in `make run`) holds BENCH_AUDIT_EVENTS (default
100,000) realistic envelopes of 50 tenants (a fifth of them logins, the rest operations with two
or three subject ids). Then, each from the start of the stream with a durable of its own:

* baseline: a bare nats-py durable pull consumer with explicit acks (fetching as many at a time
  as the service does, `ack()` each), doing nothing with the messages;
* audit_log: shared.consumer.EventConsumer in batch mode with audit_log's own handler and
  database settings, exactly as the service runs it (ROUMU_AUDIT_LOG_CONSUMER_BATCH, 1,000: one
  transaction per fetch with the inbox claims, the entries, the target index and the chain heads;
  then an ack of each message and one flush), on a fresh SQLite
  database migrated like the service's; and on PostgreSQL too when BENCH_POSTGRES_URL is set
  (an admin URL such as postgresql+psycopg://postgres@127.0.0.1:5432/postgres).

The baseline runs before and after the stores, so drift of the machine shows. Afterwards every
chain is verified in full (replayed and checked against its head) and that rate is reported.

Goal: audit_log ingest ≥ 0.3 × the bare consume. Run alone: `python -m bench.bench_audit_ingest`
prints the figures and writes its section of docs/BENCHMARKS.md (between its own markers)."""

from __future__ import annotations

import asyncio
import os
import random
import re
import resource
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import create_engine, func, select, text

from bench.common import OUT, markers, write_section
from services.audit_log import service
from services.audit_log.models import messaging
from services.audit_log.service import ENTRIES, HEADS
from services.audit_log.settings import AuditLogSettings
from services.audit_log.signer import CheckpointSigner
from shared.clock import SYSTEM_CLOCK
from shared.consumer import EventConsumer
from shared.db import Database
from shared.events import Actor, EventEnvelope
from shared.migrations import upgrade
from shared.nats_auth import ADMIN, credentials_dir, read_password
from shared.nats_client import NatsAccess, connect, ensure_stream
from shared.purge import TenantPurge
from tests.support.nats_server import server_with_users

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = markers("bench_audit_ingest")
STREAM = "ROUMU_BENCH_AUDIT"
GOAL = 0.30
# The service's own fetch size (ROUMU_AUDIT_LOG_CONSUMER_BATCH), for the baseline too.
BATCH = AuditLogSettings().consumer_batch
TENANTS = 50
IN_PROCESS = "fetching in the service process, SQLite (comparison)"


@dataclass(frozen=True)
class Run:
    name: str
    events: int
    seconds: float
    # CPU seconds per second of wall time: this process, and child processes (the fetch process).
    cpu: float | None = None
    child_cpu: float | None = None

    @property
    def per_s(self) -> float:
        return self.events / self.seconds


@dataclass(frozen=True)
class Figures:
    events: int
    publish_per_s: float
    baseline_before: Run
    baseline_after: Run
    stores: list[Run]
    # The service's consumer with the fetching in its own process (fetch process off), SQLite.
    in_process: Run
    verify: list[Run]
    load_before: float
    load_after: float

    @property
    def baseline_per_s(self) -> float:
        return (self.baseline_before.per_s + self.baseline_after.per_s) / 2


def make_events(n: int) -> list[EventEnvelope]:
    rng = random.Random(7)
    tenants = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(TENANTS)]
    out = []
    for i in range(n):
        tenant = tenants[i % TENANTS]
        user = f"user-{rng.randrange(20)}"
        ip = f"192.0.2.{rng.randrange(1, 250)}"
        if rng.random() < 0.2:
            out.append(EventEnvelope(
                type="roumu.auth.login.succeeded", tenant_id=tenant, actor=Actor(kind="user", id=user, ip=ip),
                subject={"user_id": user, "session_id": str(uuid.UUID(int=rng.getrandbits(128)))},
                data={"method": "password", "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"},
                trace_id=f"req-{i}"))
        else:
            out.append(EventEnvelope(
                type="roumu.koyo_hoken.insured_person.registered", tenant_id=tenant,
                actor=Actor(kind="user", id=user, ip=ip),
                subject={"insured_person_id": str(uuid.UUID(int=rng.getrandbits(128))), "tenant_id": tenant,
                         "jigyosho_id": f"jig-{rng.randrange(5)}"},
                data={"hire_date": "2026-04-01", "weekly_hours": "40", "status": "active"}, trace_id=f"req-{i}"))
    return out


async def publish(url: NatsAccess, events: list[EventEnvelope]) -> float:
    nc = await connect(url, "bench-publisher", max_reconnect_attempts=0)
    js = nc.jetstream()
    await ensure_stream(js, STREAM)
    start = time.perf_counter()
    for i in range(0, len(events), 1000):
        chunk = events[i:i + 1000]
        await asyncio.gather(*(js.publish(e.type, e.to_json(), stream=STREAM, headers={"Nats-Msg-Id": e.id})
                               for e in chunk))
    seconds = time.perf_counter() - start
    await nc.close()
    return len(events) / seconds


async def bare_consume(url: NatsAccess, n: int, name: str) -> Run:
    """The baseline: fetch and ack, nothing else."""
    nc = await connect(url, f"bench-{name}", max_reconnect_attempts=0)
    js = nc.jetstream()
    durable = f"bench-bare-{uuid.uuid4().hex[:6]}"
    sub = await js.pull_subscribe("roumu.>", durable=durable, stream=STREAM, config=ConsumerConfig(
        durable_name=durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=60))
    done = 0
    start, cpu = time.perf_counter(), time.process_time()
    while done < n:
        try:
            msgs = await sub.fetch(BATCH, timeout=5)
        except TimeoutError:
            continue
        for m in msgs:
            await m.ack()
        done += len(msgs)
    await nc.flush()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    await js.delete_consumer(STREAM, durable)
    await nc.close()
    return Run(name, done, seconds, cpu / seconds)


async def store_consume(url: NatsAccess, db: Database, n: int, name: str, fetch_process: bool | None = None) -> Run:
    """audit_log's consumer as the service runs it (or with the fetching in this process, for
    comparison), until every event is committed."""
    if fetch_process is None:
        fetch_process = AuditLogSettings().consumer_fetch_process
    recorder = service.Recorder(SYSTEM_CLOCK, TenantPurge("audit_log", messaging))
    consumer = EventConsumer(f"bench-audit-{uuid.uuid4().hex[:6]}", "roumu.>", recorder.record, db, messaging, url,
                             STREAM, ack_wait=60, batch=BATCH, batch_handler=recorder.record_batch,
                             fetch_process=fetch_process)
    applied = 0
    finished = asyncio.Event()
    loop = asyncio.get_running_loop()
    original = consumer.apply_batch

    def counting(events: object) -> int:
        nonlocal applied
        got = original(events)  # type: ignore[arg-type]
        applied += got
        if applied >= n:
            loop.call_soon_threadsafe(finished.set)
        return got

    consumer.apply_batch = counting  # type: ignore[method-assign]
    stop = asyncio.Event()
    start, cpu, child_cpu = time.perf_counter(), time.process_time(), _children_cpu()
    task = asyncio.create_task(consumer.run(stop))
    await finished.wait()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    stop.set()
    await task  # the fetch process has exited and been waited for: its CPU is counted
    return Run(name, applied, seconds, cpu / seconds, (_children_cpu() - child_cpu) / seconds)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def verify_all(db: Database, signer: CheckpointSigner, name: str) -> Run:
    with db.sessions() as s:
        total = int(s.execute(select(func.count()).select_from(ENTRIES)).scalar_one())
        start = time.perf_counter()
        failed = service.verify_all(s, signer)
        seconds = time.perf_counter() - start
        chains = int(s.execute(select(func.count()).select_from(HEADS)).scalar_one())
    assert failed == 0, f"{failed} chains failed verification"
    assert chains == 2 * TENANTS
    return Run(name, total, seconds)


def run(n: int) -> Figures:
    load_before = os.getloadavg()[0]
    events = make_events(n)
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        work = Path(tmp)
        # make run's NATS users; the benchmark's own publisher and consumers are `admin`.
        nats = server_with_users(work / "nats", work / "keys", STREAM, admin=True)
        nats.start()
        access = NatsAccess(nats.url, ADMIN, read_password(credentials_dir(work / "keys"), ADMIN))
        signer = CheckpointSigner(work / "keys")
        pg_admin = os.environ.get("BENCH_POSTGRES_URL")
        pg_name = f"roumu_bench_audit_{uuid.uuid4().hex[:6]}"
        try:
            publish_per_s = asyncio.run(publish(access, events))
            before = asyncio.run(bare_consume(access, n, "bare nats-py (before)"))
            stores, verify = [], []
            targets = [("SQLite", f"sqlite:///{work.as_posix()}/audit_log.db")]
            if pg_admin:
                admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    c.execute(text(f'CREATE DATABASE "{pg_name}"'))
                admin.dispose()
                targets.append(("PostgreSQL", f"{pg_admin.rsplit('/', 1)[0]}/{pg_name}"))
            for label, url in targets:
                db = fresh_store(url)
                try:
                    stores.append(asyncio.run(store_consume(access, db, n, f"audit_log, {label}")))
                    verify.append(verify_all(db, signer, f"verify, {label}"))
                finally:
                    db.dispose()
            in_process = _in_process_run(access, work, n)
            after = asyncio.run(bare_consume(access, n, "bare nats-py (after)"))
        finally:
            nats.stop()
            if pg_admin:
                admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
                admin.dispose()
    return Figures(n, publish_per_s, before, after, stores, in_process, verify, load_before, os.getloadavg()[0])


def fresh_store(url: str) -> Database:
    """audit_log's database at `url`, migrated and tuned as the service's start-up does."""
    upgrade(ROOT / "services" / "audit_log" / "migrations", url)
    db = Database(url)
    service.tune_database(db.engine)
    return db


def _in_process_run(url: NatsAccess, work: Path, n: int) -> Run:
    db = fresh_store(f"sqlite:///{work.as_posix()}/audit_log_in_process.db")
    try:
        return asyncio.run(store_consume(url, db, n, IN_PROCESS, fetch_process=False))
    finally:
        db.dispose()


def previous_run(section: str) -> str | None:
    """The figures of the run this one replaces (its store rows and load), carried as one line."""
    rows = re.findall(r"^\| (audit_log, [^|]+?) \| [\d,]+ \| [\d.]+ \| ([\d,]+) \| (?:[^|]* \| )?\*\*([\d.]+)\*\* \|$",
                      section, re.M)
    if not rows:
        return None
    load = re.search(r"Load average \(1 min\) before / after: ([\d.]+) / ([\d.]+)", section)
    figures = "; ".join(f"{name} {per_s}/s = {ratio}×" for name, per_s, ratio in rows)
    return f"* Previous run: {figures}" + (f" (load {load[1]} / {load[2]})." if load else ".")


def _cpu(r: Run) -> str:
    if r.cpu is None:
        return ""
    return f"{r.cpu:.2f}" + (f" + {r.child_cpu:.2f}" if r.child_cpu else "")


def markdown(f: Figures, previous: str | None = None) -> str:
    rows = [f"| {r.name} | {r.events:,} | {r.seconds:.2f} | {r.per_s:,.0f} | {_cpu(r)} | |"
            for r in (f.baseline_before, f.baseline_after)]
    rows += [f"| {r.name} | {r.events:,} | {r.seconds:.2f} | {r.per_s:,.0f} | {_cpu(r)} | "
             f"**{r.per_s / f.baseline_per_s:.2f}** |" for r in f.stores]
    r = f.in_process
    rows.append(f"| {r.name} | {r.events:,} | {r.seconds:.2f} | {r.per_s:,.0f} | {_cpu(r)} | "
                f"{r.per_s / f.baseline_per_s:.2f} |")
    rows += [f"| {r.name} (replay + hash of every entry) | {r.events:,} | {r.seconds:.2f} | {r.per_s:,.0f} | | |"
             for r in f.verify]
    verdicts = "; ".join(f"{r.name}: {r.per_s / f.baseline_per_s:.2f}× — "
                         f"{'met' if r.per_s / f.baseline_per_s >= GOAL else 'NOT met'}" for r in f.stores)
    table = "\n".join(rows)
    return f"""{BEGIN}
## Audit-log ingest against a bare consume (bench/bench_audit_ingest.py)

Method: a nats-server from the wheel (file storage) holds {f.events:,} envelopes of {TENANTS} tenants
(a fifth logins, the rest operations with two or three subject ids), published beforehand at
{f.publish_per_s:,.0f} msgs/s. Each consumer reads them all from the start of the stream with a
durable of its own, fetching {BATCH:,} at a time (the service's batch), on 127.0.0.1.
The baseline is a bare nats-py pull consumer that only acks (`ack()`), run before and after the
stores; the ratio is against their mean. audit_log is `shared.consumer.EventConsumer` in batch mode
with the service's own handler and database settings: per fetch, one transaction with the inbox
claims (one INSERT … ON CONFLICT DO NOTHING RETURNING), the entries (sequence numbers and SHA-256
chain hashes per tenant and category), the target index and the chain heads, then the acks;
the next batch is read and parsed while one is applied. As the service runs it
(`ROUMU_AUDIT_LOG_CONSUMER_FETCH_PROCESS`), the fetching and acking are in a child process
(`shared/fetch_process.py`), and what the child fetched while the store was busy goes into the
next transaction together (up to 8 fetches). The timer stops when the last entry is committed
(the fetch process's start-up included). CPU: seconds of CPU per second of wall time, of this
process + of the fetch process (the machine's cores are the limit of the whole, so this shows
what the ratio costs). For comparison, one more run on
SQLite with the fetch process off (`ROUMU_AUDIT_LOG_CONSUMER_FETCH_PROCESS=false`: nats-py's
fetching and acking in the same interpreter as the store's work).

| consumer | events | seconds | events/s | CPU | × bare |
| --- | ---: | ---: | ---: | ---: | ---: |
{table}

* Goal ≥ {GOAL:.1f}× the bare consume: {verdicts}.
* Load average (1 min) before / after: {f.load_before:.1f} / {f.load_after:.1f} on {os.cpu_count()} cores — other
  work sharing the CPU slows both sides; the ratio is what travels.
* Verification reads every chain back, recomputes every hash and checks it against the chain
  heads ({2 * TENANTS} chains); no chain failed.
{previous + chr(10) if previous else ""}{END}"""


def main() -> None:
    f = run(int(os.environ.get("BENCH_AUDIT_EVENTS", "100000")))
    print(f"published {f.events} events at {f.publish_per_s:,.0f}/s")
    for r in (f.baseline_before, *f.stores, f.in_process, f.baseline_after, *f.verify):
        cpu = f", CPU {_cpu(r)} s/s" if r.cpu else ""
        print(f"{r.name}: {r.events} in {r.seconds:.2f} s = {r.per_s:,.0f}/s{cpu}")
    for r in (*f.stores, f.in_process):
        print(f"{r.name}: {r.per_s / f.baseline_per_s:.2f}x the bare consume (goal >= {GOAL})")
    old = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    old_section = old.split(BEGIN, 1)[1].split(END, 1)[0] if BEGIN in old and END in old else ""
    write_section("bench_audit_ingest", markdown(f, previous_run(old_section)))
    print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
