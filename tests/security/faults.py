"""The whole stack as separate OS processes, and the faults the fault run injects into it (issue 13,
item 4): its own nats-server (stopped, killed, started again on the same port and store), every
service and the e-Gov sandbox as `uvicorn --factory services.<name>.app:create_app` and the gateway
as `python -m gateway` (the processes `make run` starts, ops/devrun.py), each killable alone, and
on PostgreSQL a private cluster (initdb as the `postgres` OS user, its own port) that can be
restarted without touching the machine's shared server. Plus the readers the checks use: every
outbox, every inbox, the stream and the consumers' positions, read directly."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from nats.js.api import DeliverPolicy
from sqlalchemy import MetaData, Table, create_engine, select
from sqlalchemy.engine import Engine

from ops.databases import ensure_databases
from ops.devrun import Child, DevRun
from ops.migrate import migrate, migrations_dir
from ops.seed import seed_demo
from shared.keys import ensure_keys
from shared.nats_auth import write_server_config
from shared.nats_client import NatsAccess, connect
from shared.settings import CommonSettings
from shared.topology import SERVICES
from tests.support.nats_server import NatsServer, free_port

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("ROUMU_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PASSWORD = "faults-demo-password-長い"
STREAM = "ROUMU"


# --------------------------------------------------------------------------------- PostgreSQL


def private_postgres_unavailable() -> str | None:
    """Why a private cluster cannot be made here (None: it can)."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return f"no initdb/pg_ctl under {PG_BIN} (set ROUMU_FAULTS_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` OS user to run initdb as"
        if not shutil.which("runuser"):
            return "running as root and runuser is missing"
    return None


class PrivatePostgres:
    """A throwaway cluster in /tmp (not under pytest's tmp: its parents are 0700 to root), owned by
    `postgres` when we are root, trust-authenticated on 127.0.0.1 and its own port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="roumu-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cmd = (["runuser", "-u", "postgres", "--"] if self.as_root else []) + list(argv)
        return subprocess.run(cmd, check=check, capture_output=True, timeout=90)

    def init(self) -> None:
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
                  "-E", "UTF8", "--locale=C.UTF-8")

    def start(self) -> None:
        # fsync off: only the server is stopped, never the machine, so what reached the OS is kept.
        # synchronous_commit stays on: off would lose commits already answered at an immediate stop.
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=400")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t",
                  "60", "-o", opts, "start")

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash as far as the database is concerned (recovery from WAL on start)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    @property
    def template(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/faults_{{service}}"

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------- the stack

# Short intervals so a run of minutes sees every background path (tracking, reconciliation, retries).
EFILING_ENV = {
    "ROUMU_EFILING_POLL_INTERVAL_SECONDS": "0.3", "ROUMU_EFILING_POLL_MAX_INTERVAL_SECONDS": "2",
    "ROUMU_EFILING_WORKER_INTERVAL_SECONDS": "0.3", "ROUMU_EFILING_HTTP_TIMEOUT_SECONDS": "3",
    "ROUMU_EFILING_RETRY_BASE_SECONDS": "0.2", "ROUMU_EFILING_RETRY_CAP_SECONDS": "2",
    "ROUMU_EFILING_MAINTENANCE_BASE_SECONDS": "0.5", "ROUMU_EFILING_MAINTENANCE_CAP_SECONDS": "3",
    "ROUMU_EFILING_STALE_SEND_SECONDS": "8",
}


class FaultStack:
    """NATS, the databases, every service, the sandbox and the gateway; each one stoppable alone."""

    def __init__(self, root: Path, database_url_template: str | None) -> None:
        self.root = root
        self.var = root / "var"
        self.log_dir = self.var / "log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # The NATS users make run has (shared/nats_auth.py), and the tests' admin to read the stream.
        ensure_keys(self.var / "keys")
        self.nats = NatsServer(self.var / "nats", config=write_server_config(self.var / "keys", STREAM, admin=True))
        self.gateway_port = free_port()
        self.ports = {s.name: free_port() for s in SERVICES}
        template = database_url_template or f"sqlite:///{self.var.as_posix()}/db/{{service}}.db"
        self.settings = CommonSettings(var_dir=self.var, keys_dir=self.var / "keys", nats_url=self.nats.url,
                                       database_url_template=template, nats_stream=STREAM, log_level="WARNING")
        self.url = f"http://127.0.0.1:{self.gateway_port}"
        self.sandbox_url = f"http://127.0.0.1:{self.ports['egov_sandbox']}"
        self.children: dict[str, Child] = {}
        self._devrun = DevRun(self.settings, self.gateway_port, self.log_dir)
        self.env = self._env()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROUMU_") and k != "NATS_URL"}
        env.update({
            "NATS_URL": self.nats.url, "ROUMU_NATS_URL": self.nats.url, "ROUMU_NATS_STREAM": STREAM,
            "ROUMU_VAR_DIR": str(self.var), "ROUMU_KEYS_DIR": str(self.settings.keys_dir),
            "ROUMU_DATABASE_URL_TEMPLATE": self.settings.database_url_template,
            "ROUMU_LOG_LEVEL": "WARNING", "ROUMU_RELAY_INTERVAL_SECONDS": "0.1", "PYTHONUNBUFFERED": "1",
            "ROUMU_GATEWAY_PORT": str(self.gateway_port),
            # One client makes every request: the limits are not what this run is about.
            "ROUMU_GATEWAY_RATE_LIMIT_IP": "1000000/minute", "ROUMU_GATEWAY_RATE_LIMIT_USER": "1000000/minute",
            "ROUMU_GATEWAY_RATE_LIMIT_TENANT": "1000000/minute", "ROUMU_GATEWAY_RATE_LIMIT_LOGIN": "1000/minute",
            "ROUMU_EFILING_EGOV_AUTH_URL": f"{self.sandbox_url}/auth",
            "ROUMU_EFILING_EGOV_API_URL": f"{self.sandbox_url}/shinsei/v2",
            **EFILING_ENV,
        })
        for s in SERVICES:
            env[f"ROUMU_{s.name.upper()}_PORT"] = str(self.ports[s.name])
            env[f"ROUMU_{s.name.upper()}_URL"] = f"http://127.0.0.1:{self.ports[s.name]}"
        return env

    # ---- life
    def prepare(self) -> None:
        self.nats.start()
        ensure_keys(self.settings.keys_dir)
        with_migrations = [s.name for s in SERVICES if migrations_dir(s.name).is_dir()]
        ensure_databases(self.settings, with_migrations)
        migrate(with_migrations, settings=self.settings)
        seed_demo(self.settings, PASSWORD)

    def _child(self, name: str) -> Child:
        if name == "gateway":
            c = self._devrun.uvicorn_child("gateway", "gateway.app:create_app", self.gateway_port, "/readyz")
            c.argv = [sys.executable, "-m", "gateway"]
        else:
            c = self._devrun.uvicorn_child(name, f"services.{name}.app:create_app", self.ports[name])
        return c

    def start(self, names: list[str]) -> None:
        children = [self._child(n) for n in names]
        for c in children:
            c.start(self.env)
            self.children[c.name] = c
        with httpx.Client(timeout=2.0) as client:
            for c in children:
                self._devrun.wait_healthy(c, client)

    def start_all(self) -> None:
        self.prepare()
        self.start([s.name for s in SERVICES])
        self.start(["gateway"])

    def kill(self, names: list[str]) -> None:
        """SIGKILL: no lifespan shutdown, no flush, whatever was in flight is cut."""
        for n in names:
            self.children[n].signal_group(signal.SIGKILL)
        for n in names:
            c = self.children.pop(n)
            if c.proc is not None:
                c.proc.wait(30)
            c.stop()  # closes its log

    def stop_all(self) -> None:
        gateway = self.children.pop("gateway", None)
        if gateway is not None:
            gateway.stop()
        for c in self.children.values():
            c.signal_group(signal.SIGTERM)
        for c in self.children.values():
            c.stop()
        self.children.clear()
        self.nats.stop()

    def engine(self, service: str) -> Engine:
        return create_engine(self.settings.database_url(service))

    def log_tails(self, lines: int = 15) -> str:
        out = []
        for p in sorted(self.log_dir.glob("*.log")):
            tail = "\n".join(p.read_text(errors="replace").splitlines()[-lines:])
            out.append(f"--- {p.name}\n{tail}")
        return "\n".join(out)


# --------------------------------------------------------------------------------- readers


@dataclass
class Outboxes:
    """Every event any service wrote to its outbox: id → (service, subject); and the unpublished."""

    events: dict[str, tuple[str, str]] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    by_service: Counter[str] = field(default_factory=Counter)


def _table(engine: Engine, name: str) -> Table | None:
    meta = MetaData()
    meta.reflect(engine, only=lambda t, _m: t == name)
    return meta.tables.get(name)


def read_outboxes(stack: FaultStack) -> Outboxes:
    out = Outboxes()
    for s in SERVICES:
        engine = stack.engine(s.name)
        try:
            outbox = _table(engine, "outbox")
            if outbox is None:
                continue
            with engine.connect() as conn:
                for event_id, subject, published in conn.execute(
                        select(outbox.c.event_id, outbox.c.subject, outbox.c.published_at)):
                    out.events[str(event_id)] = (s.name, str(subject))
                    out.by_service[s.name] += 1
                    if published is None:
                        out.pending[s.name] = out.pending.get(s.name, 0) + 1
        finally:
            engine.dispose()
    return out


def read_inboxes(stack: FaultStack) -> dict[str, Counter[str]]:
    """consumer (durable name) → event id → rows (the primary key makes it 0 or 1)."""
    out: dict[str, Counter[str]] = {}
    for s in SERVICES:
        engine = stack.engine(s.name)
        try:
            inbox = _table(engine, "inbox")
            if inbox is None:
                continue
            with engine.connect() as conn:
                for consumer, event_id in conn.execute(select(inbox.c.consumer, inbox.c.event_id)):
                    out.setdefault(str(consumer), Counter())[str(event_id)] += 1
        finally:
            engine.dispose()
    return out


@dataclass
class StreamState:
    consumers: dict[str, tuple[str, int, int]]  # durable → (filter subject, pending, ack pending)
    event_ids: Counter[str]  # Nats-Msg-Id of every message in the stream
    seqs: dict[str, list[int]] = field(default_factory=dict)  # Nats-Msg-Id → stream sequences
    floors: dict[str, tuple[int, int]] = field(default_factory=dict)  # durable → (delivered, ack floor)
    last_seq: int = 0


def read_stream(access: NatsAccess, with_messages: bool = True) -> StreamState:
    async def go() -> StreamState:
        nc = await connect(access, "faults-reader", max_reconnect_attempts=0)
        try:
            js = nc.jetstream()
            consumers, floors = {}, {}
            for info in await js.consumers_info(STREAM):
                cfg = info.config
                name = str(cfg.durable_name or info.name)
                consumers[name] = (str(cfg.filter_subject or ""), int(info.num_pending or 0),
                                   int(info.num_ack_pending or 0))
                floors[name] = (int(info.delivered.stream_seq or 0) if info.delivered else 0,
                                int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0)
            ids: Counter[str] = Counter()
            seqs: dict[str, list[int]] = {}
            state = (await js.stream_info(STREAM)).state
            if with_messages:
                sub = await js.subscribe(">", stream=STREAM, ordered_consumer=True,
                                         deliver_policy=DeliverPolicy.ALL)
                try:
                    for _ in range(state.messages):
                        msg = await sub.next_msg(timeout=10)
                        msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
                        ids[msg_id] += 1
                        seqs.setdefault(msg_id, []).append(int(msg.metadata.sequence.stream))
                finally:
                    await sub.unsubscribe()
            return StreamState(consumers, ids, seqs, floors, int(state.last_seq or 0))
        finally:
            await nc.close()

    return asyncio.run(go())


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` one token, `>` the rest (at least one token)."""
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


def service_of_durable(durable: str) -> str | None:
    """Durables are `<service>-<name>` (shared.service_app); the longest service name that fits."""
    names = sorted((s.name for s in SERVICES), key=len, reverse=True)
    return next((n for n in names if durable.startswith(n + "-")), None)


def wait_until(condition: Callable[[], bool], what: str, timeout: float, every: float = 0.5,
               why: Callable[[], Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                                 + (f": {why()}" if why else ""))
        time.sleep(every)


@contextmanager
def timed(figures: dict[str, float], key: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        figures[key] = round(figures.get(key, 0.0) + time.monotonic() - started, 2)


# --------------------------------------------------------------------------------- the workload

# Answers that mean "not now" while a fault lasts: the gateway's 502/503/504 while a service is
# down or restarting, a service's 503 while its database is. The client waits and asks again.
TRANSIENT = {502, 503, 504}


class Findings(list[str]):
    """What the run saw that it must not: a 500, an error that is not problem+json."""


@dataclass
class Tally:
    ops: Counter[str] = field(default_factory=Counter)  # operations done, by kind
    ambiguous: Counter[str] = field(default_factory=Counter)  # done after a try whose fate is unknown
    retried: Counter[str] = field(default_factory=Counter)  # answers that made the client try again
    findings: Findings = field(default_factory=Findings)

    @property
    def total(self) -> int:
        return sum(self.ops.values())


@dataclass
class Answer:
    r: httpx.Response
    retried: bool  # an earlier try failed in a way that may or may not have taken effect
    found: bool = False  # the earlier try had taken effect: `r` is the lookup's answer

    @property
    def status(self) -> int:
        return self.r.status_code

    def json(self) -> Any:
        return self.r.json()


class Api:
    """A client of the gateway as one administrator (one per thread), riding out faults: a
    connection error or a transient answer is retried until `patience` runs out; a 500 is a finding
    (and retried, so one finding does not hide the others); an error without problem+json is one."""

    def __init__(self, url: str, tally: Tally, patience: float = 150.0) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.tally = tally
        self.patience = patience
        self.token = ""

    def close(self) -> None:
        self.http.close()

    def login(self) -> None:
        a = self.call("POST", "/api/v1/auth/login", auth=False,
                      json={"tenant_code": "demo", "login_id": "admin", "password": PASSWORD})
        assert a.status == 200, a.r.text
        self.token = str(a.json()["access_token"])

    def _check(self, method: str, path: str, r: httpx.Response) -> None:
        if r.status_code >= 400 and not r.headers.get("content-type", "").startswith("application/problem+json"):
            self.tally.findings.append(f"{r.status_code} without problem+json from {method} {path}: {r.text[:200]}")
        if r.status_code == 500:
            self.tally.findings.append(f"500 from {method} {path}: {r.text[:300]}")

    def call(self, method: str, path: str, *, auth: bool = True,
             found: Callable[[], httpx.Response | None] | None = None, **kw: Any) -> Answer:
        """The first answer that is not transient. `found`, asked before each new try after one
        whose fate is unknown, answers the resource when that try had taken effect after all (a
        create is not repeated then)."""
        deadline = time.monotonic() + self.patience
        extra = dict(kw.pop("headers", None) or {})
        retried = False
        while True:
            headers = {**extra, **({"Authorization": f"Bearer {self.token}"} if auth else {})}
            try:
                r = self.http.request(method, path, headers=headers, **kw)
            except httpx.TransportError as exc:
                reason = f"transport error ({type(exc).__name__}: {str(exc)[:60]})"
            else:
                self._check(method, path, r)
                if r.status_code == 401 and auth:
                    reason = "401 (token)"
                    self.login()
                elif r.status_code == 500 or r.status_code in TRANSIENT:
                    reason = str(r.status_code)
                else:
                    return Answer(r, retried)
            retried = True
            self.tally.retried[reason] += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path}: still failing ({reason}) after {self.patience:.0f}s")
            time.sleep(0.3)
            if found is not None:
                try:
                    hit = found()
                except (httpx.TransportError, AssertionError):
                    hit = None
                if hit is not None:
                    return Answer(hit, True, found=True)
