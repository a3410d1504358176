"""The service frame against a bare FastAPI endpoint doing the same work, in the same run.

Starts a nats-server, the accounts service (`services.accounts.app:create_app`: the frame of
shared/service_app.py with its middleware, token check, revocation look-up, sessions, metrics,
relay and consumers) and the bare app of bench/bare_app.py (FastAPI, pyjwt, SQLAlchemy, nothing
else), each its own uvicorn process on 127.0.0.1, same flags, each with its own database of the
same schema holding the same tenant row. Two requests, each measured on both, alternately, in
rounds (the machine's drift hits both alike; the figures are the medians over rounds):

* read: GET /api/v1/accounts/tenants/{id} with a user access token of the tenant (EdDSA verify,
  a session id the revocation list is asked about, one-row read);
* write: PUT /api/v1/accounts/tenants/{id} with an operator token (the tenant renamed, each
  request a new name, its roumu.accounts.tenant.updated event in the outbox, one transaction);
  the bare app does the UPDATE and the outbox INSERT in one transaction.

BENCH_FRAME_DATABASES (default sqlite,postgres): SQLite, then PostgreSQL (ROUMU_BENCH_POSTGRES_URL, an
admin URL; two databases are created and dropped), each its own section. BENCH_SECONDS, BENCH_CONNECTIONS,
BENCH_FRAME_ROUNDS (default 3). Run alone: `python -m bench.bench_service_frame`."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import MetaData, Table, create_engine, insert, select, text

from bench.common import OUT, markers, stop_process, wait_ready, write_section
from bench.load import LoadResult, run_load, run_wrk, wrk_available
from ops.migrate import migrate
from shared.keys import ensure_keys
from shared.settings import CommonSettings
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER, TokenSigner
from tests.support.nats_server import free_port, server_with_users

ROOT = Path(__file__).resolve().parents[1]
GOAL_THROUGHPUT = 0.8
GOAL_P99 = 3.0


PATH = "/api/v1/accounts/tenants/"
WRITES = """
local paths = {{{paths}}}
local versions = {{{versions}}}
local count = 0
function setup(thread)
  count = count + 1
  thread:set("path", paths[count])
  thread:set("version", versions[count])
end
local n = 0
function request()
  n = n + 1
  -- wrk.format takes these headers instead of wrk.headers (-H): carry those over.
  local headers = {{["If-Match"] = '"' .. version .. '"', ["Content-Type"] = "application/json"}}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  return wrk.format("PUT", path, headers,
    '{{"name": "ベンチ事務所 ' .. n .. '", "kind": "sharoushi", "contract_start": "2026-04-01"}}')
end
function response(status, headers, body)
  if status == 200 then version = version + 1 end
end
"""


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    token: str


def _writes_script(base: str, tenant_ids: list[str], headers: dict[str, str]) -> str:
    """wrk: one thread and connection per tenant, each request renaming it with the version its
    last answer left (If-Match), starting from the version the tenant has now."""
    versions = [httpx.get(f"{base}{PATH}{t}", headers=headers, timeout=30).raise_for_status().json()["version"]
                for t in tenant_ids]
    return WRITES.format(paths=", ".join(f'"{PATH}{t}"' for t in tenant_ids),
                         versions=", ".join(str(v) for v in versions))


def _cpu_s(pid: int) -> float:
    """The process's CPU time so far (user + system, /proc/<pid>/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    case: Case
    bare: list[LoadResult]
    frame: list[LoadResult]
    # The server process's CPU time per answered request, ms, per round: what the code costs,
    # which a busy machine's other work does not change the way it changes requests/s.
    bare_cpu_ms: tuple[float, ...] = ()
    frame_cpu_ms: tuple[float, ...] = ()

    def cpu_ms(self, side: str) -> float:
        values = self.bare_cpu_ms if side == "bare" else self.frame_cpu_ms
        return float(statistics.median(values)) if values else float("nan")

    @staticmethod
    def _med(rs: list[LoadResult], attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in rs))

    def med(self, side: str, attr: str) -> float:
        return self._med(self.bare if side == "bare" else self.frame, attr)

    @property
    def throughput_ratio(self) -> float:
        return self.med("frame", "rps") / self.med("bare", "rps")

    @property
    def p99_ratio(self) -> float:
        return self.med("frame", "p99_ms") / self.med("bare", "p99_ms")

    @property
    def unexpected(self) -> int:
        return sum(r.unexpected for r in self.bare + self.frame)


def _uvicorn(app: str, port: int, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1", "--port", str(port),
         "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=log)


@contextmanager
def _profiled(pid: int, name: str, seconds: int) -> Iterator[None]:
    """BENCH_FRAME_PYSPY=<dir>: py-spy samples the service while it is under load (raw stacks,
    one file per measurement; `py-spy` must be on PATH, root for ptrace)."""
    out = os.environ.get("BENCH_FRAME_PYSPY")
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not out or not Path(spy).exists():
        yield
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
                             "--format", "raw", "--threads", "--idle", "--output", f"{out}/{name}.txt"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.wait(seconds + 30)


def _copy_tenants(src_url: str, dst_url: str, tenant_ids: list[str]) -> None:
    """The bare app's database gets the service's tenant rows (same schema, its own outbox)."""
    src, dst = create_engine(src_url), create_engine(dst_url)
    try:
        with src.connect() as s:
            table = Table("tenants", MetaData(), autoload_with=s)
            rows = [dict(r) for r in s.execute(select(table).where(table.c.id.in_(tenant_ids))).mappings()]
        with dst.begin() as d:
            d.execute(insert(Table("tenants", MetaData(), autoload_with=d)), rows)
    finally:
        src.dispose()
        dst.dispose()


def run(seconds: int = 10, connections: int = 32, rounds: int = 3, kind: str = "sqlite") -> list[Measured]:
    admin = os.environ.get("ROUMU_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    prefix = f"roumu_bench_frame_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="roumu-bench-frame-") as tmp_name:
        tmp = Path(tmp_name)
        nats = server_with_users(tmp / "nats", tmp / "keys", CommonSettings().nats_stream)
        nats.start()
        procs: list[subprocess.Popen[bytes]] = []
        pg = create_engine(admin, isolation_level="AUTOCOMMIT") if kind == "postgres" else None
        try:
            if pg is not None:
                with pg.connect() as conn:
                    for db in ("accounts", "bare"):
                        conn.execute(text(f'CREATE DATABASE "{prefix}_{db}"'))
                template = f"{admin.rsplit('/', 1)[0]}/{prefix}_{{service}}"
                bare_url = template.format(service="bare")
            else:
                (tmp / "db").mkdir()
                template = f"sqlite:///{tmp.as_posix()}/db/{{service}}.db"
                bare_url = f"sqlite:///{tmp.as_posix()}/db/bare.db"
            settings = CommonSettings(var_dir=tmp, keys_dir=tmp / "keys", nats_url=nats.url,
                                      database_url_template=template, log_level="WARNING")
            ensure_keys(settings.keys_dir)
            migrate(["accounts"], settings)
            # The bare app's database: the same schema (accounts' migrations), no service behind it.
            migrate(["accounts"], CommonSettings(var_dir=tmp, keys_dir=tmp / "keys", database_url_template=bare_url))
            svc_port, bare_port = free_port(), free_port()
            env = {**os.environ, "ROUMU_VAR_DIR": str(tmp), "ROUMU_KEYS_DIR": str(settings.keys_dir),
                   "ROUMU_NATS_URL": nats.url, "ROUMU_DATABASE_URL_TEMPLATE": template,
                   "ROUMU_LOG_LEVEL": "WARNING", "ROUMU_BENCH_BARE_DATABASE_URL": bare_url}
            log = (tmp / "servers.log").open("ab")
            procs.append(_uvicorn("services.accounts.app:create_app", svc_port, env, log))
            procs.append(_uvicorn("bench.bare_app:create_app", bare_port, env, log))
            frame, bare = f"http://127.0.0.1:{svc_port}", f"http://127.0.0.1:{bare_port}"
            wait_ready(f"{frame}/readyz", procs[0], "accounts")
            wait_ready(f"{bare}/docs", procs[1], "bare")

            signer = TokenSigner(settings.keys_dir, "access")
            claims = {"typ": "access", "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}
            operator = signer.sign({**claims, "sub": "bench-op", "kind": "operator", "roles": ["operator"]}, 3600)
            tenant_ids = []
            for i in range(connections):  # one tenant per connection for the writes (If-Match)
                r = httpx.post(f"{frame}/api/v1/accounts/tenants", headers={"Authorization": f"Bearer {operator}"},
                               json={"code": f"bench{i}", "name": "ベンチ事務所", "kind": "sharoushi",
                                     "contract_start": "2026-04-01"}, timeout=30)
                r.raise_for_status()
                tenant_ids.append(r.json()["id"])
            _copy_tenants(settings.database_url("accounts"), bare_url, tenant_ids)
            user = signer.sign({**claims, "sub": str(uuid.uuid4()), "kind": "user", "tid": tenant_ids[0],
                                "sid": uuid.uuid4().hex, "roles": ["member"]}, 3600)
            cases = [Case("read: GET tenant (JWT, revocation, one-row read)", "GET", user)]
            if wrk_available():  # the writes need wrk's Lua (a version per connection for If-Match)
                cases.append(Case("write: PUT tenant (JWT, If-Match, UPDATE + outbox event)", "PUT", operator))
            out: list[Measured] = []
            for case in cases:
                headers = {"Authorization": f"Bearer {case.token}"}

                def measure(base: str, s: int, case: Case = case, headers: dict[str, str] = headers) -> LoadResult:
                    if case.method == "GET":
                        return run_load(f"{base}{PATH}{tenant_ids[0]}", headers, s, connections)
                    return run_wrk(base, headers, s, connections, connections, True,
                                   lua=_writes_script(base, tenant_ids, headers))

                for base in (bare, frame):  # warm both (pools, caches, the thread pool)
                    measure(base, 2)
                b: list[LoadResult] = []
                f: list[LoadResult] = []
                b_cpu: list[float] = []
                f_cpu: list[float] = []
                for i in range(rounds):
                    c0 = _cpu_s(procs[1].pid)
                    b.append(measure(bare, seconds))
                    b_cpu.append((_cpu_s(procs[1].pid) - c0) * 1000 / max(b[-1].requests, 1))
                    with _profiled(procs[0].pid, f"{case.method.lower()}-{i}", seconds):
                        c0 = _cpu_s(procs[0].pid)
                        f.append(measure(frame, seconds))
                        f_cpu.append((_cpu_s(procs[0].pid) - c0) * 1000 / max(f[-1].requests, 1))
                m = Measured(case, b, f, tuple(b_cpu), tuple(f_cpu))
                out.append(m)
                print(_line(m), flush=True)
            return out
        finally:
            for p in reversed(procs):
                stop_process(p)
            nats.stop()
            if pg is not None:
                with pg.connect() as conn:
                    for db in ("accounts", "bare"):
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{prefix}_{db}" WITH (FORCE)'))
                pg.dispose()


def _line(m: Measured) -> str:
    return (f"{m.case.name}: bare {m.med('bare', 'rps'):,.0f} req/s p50 {m.med('bare', 'p50_ms'):.1f} ms "
            f"p99 {m.med('bare', 'p99_ms'):.1f} ms | frame {m.med('frame', 'rps'):,.0f} req/s "
            f"p50 {m.med('frame', 'p50_ms'):.1f} ms p99 {m.med('frame', 'p99_ms'):.1f} ms | throughput "
            f"{m.throughput_ratio:.2f}× p99 {m.p99_ratio:.2f}× | server CPU per request bare "
            f"{m.cpu_ms('bare'):.2f} ms frame {m.cpu_ms('frame'):.2f} ms | unexpected "
            f"{sum(r.unexpected for r in m.bare)}/{sum(r.unexpected for r in m.frame)}")


def markdown(name: str, results: list[Measured], kind: str, load: tuple[float, float], seconds: int, connections: int,
             rounds: int) -> str:
    rows = []
    for m in results:
        for side in ("bare", "frame"):
            rs = m.bare if side == "bare" else m.frame
            rows.append(f"| {m.case.name} | {'bare FastAPI' if side == 'bare' else 'accounts (frame)'} | "
                        f"{m.med(side, 'rps'):,.0f} | {m.med(side, 'p50_ms'):.1f} | {m.med(side, 'p99_ms'):.1f} | "
                        f"{m.cpu_ms(side):.2f} | {', '.join(f'{r.rps:,.0f}' for r in rs)} |")
    ratios = "\n".join(
        f"* {m.case.name}: throughput **{m.throughput_ratio:.2f}×** the bare endpoint (goal ≥ {GOAL_THROUGHPUT}), "
        f"p99 **{m.p99_ratio:.2f}×** (goal ≤ {GOAL_P99:.0f}) — "
        f"{'met' if m.throughput_ratio >= GOAL_THROUGHPUT and m.p99_ratio <= GOAL_P99 else '**missed**'}; "
        f"{m.unexpected} unexpected answers." for m in results)
    tool = results[0].bare[0].tool if results else "?"
    begin, end = markers(name)
    return f"""{begin}
## Service frame against a bare FastAPI endpoint, {kind} (bench/bench_service_frame.py)

Method: the accounts service and a bare FastAPI app doing the same work (bench/bare_app.py: pyjwt EdDSA verify,
then a one-row SQLAlchemy read, or an UPDATE and an outbox INSERT in one transaction; sync endpoints), each one
uvicorn process (uvloop, httptools), each its own {kind} database with the same tenant row, on 127.0.0.1 with the
load generator ({tool}, {connections} connections, {seconds} s per measurement after a 2 s warm-up of each).
{rounds} rounds, bare then frame in each; the table gives the medians, and each round's requests/s. Server CPU
ms / request: the server process's CPU time (user + system) over a measurement, per answered request — what each
costs, less moved by other work on a shared machine than requests/s.

| request | server | requests/s | p50 ms | p99 ms | server CPU ms / request | per round req/s |
| --- | --- | ---: | ---: | ---: | ---: | --- |
{chr(10).join(rows)}

{ratios}

Load average (1 min) before / after: {load[0]:.1f} / {load[1]:.1f} on {os.cpu_count()} cores — the machine is shared
(other sessions' test suites ran beside it): read the same-run ratios, not the absolute figures.
{end}"""


def main() -> None:
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
    rounds = int(os.environ.get("BENCH_FRAME_ROUNDS", "3"))
    for kind in os.environ.get("BENCH_FRAME_DATABASES", "sqlite,postgres").split(","):
        before = os.getloadavg()[0]
        results = run(seconds, connections, rounds, kind.strip())
        load = (before, os.getloadavg()[0])
        name = "bench_service_frame" if kind.strip() == "sqlite" else f"bench_service_frame_{kind.strip()}"
        write_section(name, markdown(name, results, kind.strip(), load, seconds, connections, rounds))
        print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
