"""Login cost against the cost of its one argon2id hash, measured in the same run.

The auth service runs in its own process (uvicorn, uvloop, httptools, one worker) on SQLite with
a nats-server, as in `make run`. Measured:

* one argon2id verification with the production parameters (m=19 MiB, t=2, p=1), in this
  process, serially and then with as many threads as cores (argon2-cffi releases the GIL);
* login latency, one request at a time, for a success and for each refusal (unknown tenant,
  unknown user, wrong password): the refusals must cost about the same as a success (no
  enumeration by timing);
* login throughput with as many client threads as cores, against the hash throughput.

Goal: login overhead beyond the hash ≤ 20 % (p50 latency of a successful login over the p50 of
one hash). Run alone: `python -m bench.bench_login` prints the figures and writes its section of
docs/BENCHMARKS.md (between its own markers, leaving the rest of the file alone)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import OUT, markers, wait_ready, write_section
from ops.migrate import migrate
from services.auth import service
from services.auth.passwords import Passwords
from shared.db import Database
from shared.keys import ensure_keys
from shared.settings import CommonSettings
from tests.support.nats_server import free_port, server_with_users

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = markers("bench_login")
PASSWORD = "Kestrel-bench-orbit-Lantern-2026"
GOAL = 0.20


@dataclass(frozen=True)
class Latency:
    name: str
    p50_ms: float
    p99_ms: float
    n: int


@dataclass(frozen=True)
class Figures:
    hash_p50_ms: float
    hash_per_s: float  # with `threads` threads
    threads: int
    latencies: list[Latency]
    login_per_s: float
    login_errors: int
    seconds: float
    # The login use case called in process (no HTTP, no relay), against a hash timed alternately.
    in_process_p50_ms: float
    in_process_hash_p50_ms: float

    @property
    def success(self) -> Latency:
        return self.latencies[0]

    @property
    def overhead(self) -> float:
        return (self.success.p50_ms - self.hash_p50_ms) / self.hash_p50_ms

    @property
    def in_process_overhead(self) -> float:
        return (self.in_process_p50_ms - self.in_process_hash_p50_ms) / self.in_process_hash_p50_ms


def _in_process(settings: CommonSettings) -> tuple[float, float]:
    """(login use case p50, hash p50) in this process, alternating so both see the same load."""
    from services.auth import login
    from services.auth.context import AccessKeys, AuthContext
    from shared.clock import SYSTEM_CLOCK
    from shared.crypto import load_data_keys
    from shared.tokens import TokenVerifier

    db = Database(settings.database_url("auth"))
    ctx = AuthContext(SYSTEM_CLOCK, Passwords(), load_data_keys(settings.keys_dir), AccessKeys(settings.keys_dir),
                      TokenVerifier(settings.keys_dir))
    client = login.Client("192.0.2.1", "bench")  # not the address the refusals above came from
    stored = ctx.passwords.hash(PASSWORD)
    uses, hashes = [], []
    try:
        for i in range(33):
            t = time.perf_counter()
            ctx.passwords.verify(stored, PASSWORD)
            h = time.perf_counter() - t
            t = time.perf_counter()
            with db.transaction() as s:
                assert login.password_step(s, ctx, "bench", "user0", PASSWORD, client).tokens
            if i >= 3:  # warm-up
                hashes.append(h * 1000)
                uses.append((time.perf_counter() - t) * 1000)
    finally:
        db.dispose()
    return statistics.median(uses), statistics.median(hashes)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _hash_figures(threads: int, seconds: float) -> tuple[float, float]:
    pw = Passwords()
    stored = pw.hash(PASSWORD)
    samples = []
    for _ in range(30):
        t = time.perf_counter()
        pw.verify(stored, PASSWORD)
        samples.append((time.perf_counter() - t) * 1000)
    done = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def work() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            pw.verify(stored, PASSWORD)
            with lock:
                done += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        for _ in range(threads):
            ex.submit(work)
    return statistics.median(samples), done / (time.perf_counter() - start)


def _latency(client: httpx.Client, url: str, name: str, body: dict[str, str], expect: int, n: int) -> Latency:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.post(url, json=body)
        samples.append((time.perf_counter() - t) * 1000)
        if r.status_code != expect:
            raise RuntimeError(f"{name}: {r.status_code} {r.text[:200]}")
    return Latency(name, statistics.median(samples), _pct(samples, 0.99), n)


def run(seconds: int = 10) -> Figures:
    threads = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="roumu-bench-login-") as tmp_name:
        tmp = Path(tmp_name)
        # The NATS users and permissions of make run (shared/nats_auth.py).
        nats = server_with_users(tmp / "nats", tmp / "keys", CommonSettings().nats_stream)
        nats.start()
        proc: subprocess.Popen[bytes] | None = None
        try:
            settings = CommonSettings(var_dir=tmp, keys_dir=tmp / "keys", nats_url=nats.url,
                                      database_url_template=f"sqlite:///{tmp.as_posix()}/db/{{service}}.db",
                                      log_level="WARNING")
            ensure_keys(settings.keys_dir)
            (tmp / "db").mkdir(exist_ok=True)
            migrate(["auth"], settings)
            db = Database(settings.database_url("auth"))
            tenant_id = str(uuid.uuid4())
            with db.transaction() as s:
                for i in range(threads + 1):
                    service.provision(s, tenant_id, "bench", str(uuid.uuid4()), f"user{i}", ["staff"], PASSWORD)
            db.dispose()
            port = free_port()
            env = {**os.environ, "ROUMU_VAR_DIR": str(tmp), "ROUMU_KEYS_DIR": str(settings.keys_dir),
                   "ROUMU_NATS_URL": nats.url, "ROUMU_DATABASE_URL_TEMPLATE": settings.database_url_template,
                   "ROUMU_LOG_LEVEL": "WARNING", "ROUMU_AUTH_SOURCE_FAILURE_LIMIT": "1000000"}
            log = (tmp / "auth.log").open("ab")
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "services.auth.app:create_app", "--host",
                 "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                 "--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=log)
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/healthz", proc, "auth")
            url = f"{base}/api/v1/auth/login"

            hash_p50, hash_rate = _hash_figures(threads, min(5.0, seconds))
            with httpx.Client(timeout=30) as client:
                ok = {"tenant_code": "bench", "login_id": "user0", "password": PASSWORD}
                _latency(client, url, "warm-up", ok, 200, 5)
                latencies = [
                    _latency(client, url, "success", ok, 200, 40),
                    _latency(client, url, "unknown tenant", {**ok, "tenant_code": "nope"}, 401, 20),
                    _latency(client, url, "unknown user", {**ok, "login_id": "nobody"}, 401, 20),
                    # user{threads} locks after 5 failures: the locked path is measured too.
                    _latency(client, url, "wrong password / locked", {**ok, "login_id": f"user{threads}",
                                                                      "password": "wrong-password-x"}, 401, 20),
                ]

            done = errors = 0
            lock = threading.Lock()
            stop = time.perf_counter() + seconds

            def hammer(i: int) -> None:
                nonlocal done, errors
                body = {"tenant_code": "bench", "login_id": f"user{i}", "password": PASSWORD}
                with httpx.Client(timeout=30) as c:
                    while time.perf_counter() < stop:
                        r = c.post(url, json=body)
                        with lock:
                            done += 1
                            errors += r.status_code != 200

            start = time.perf_counter()
            with ThreadPoolExecutor(threads) as ex:
                list(ex.map(hammer, range(threads)))
            elapsed = time.perf_counter() - start
            proc.terminate()  # the in-process figure without the server competing for the CPU
            proc.wait(15)
            use_p50, use_hash_p50 = _in_process(settings)
            return Figures(hash_p50, hash_rate, threads, latencies, done / elapsed, errors, elapsed, use_p50,
                           use_hash_p50)
        finally:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            nats.stop()


def markdown(f: Figures) -> str:
    verdict = "met" if f.overhead <= GOAL else "NOT met"
    rows = "\n".join(f"| {lat.name} | {lat.p50_ms:.1f} | {lat.p99_ms:.1f} | {lat.n} |" for lat in f.latencies)
    return f"""{BEGIN}
## Login against one argon2id hash (bench/bench_login.py)

Method: the auth service in its own process (uvicorn, uvloop, httptools, one worker), SQLite, a
nats-server, all on 127.0.0.1. One argon2id verification with the production parameters
(m=19 MiB, t=2, p=1) is timed in the benchmark process, serially and with {f.threads} threads.
Logins go over HTTP one at a time (latency), then from {f.threads} client threads for
{f.seconds:.0f} s (throughput). A successful login is one hash plus the session, refresh token,
history row, outbox event and access-token signature in one transaction.

| | p50 ms | p99 ms | n |
| --- | ---: | ---: | ---: |
| one argon2id hash (in process) | {f.hash_p50_ms:.1f} | | 30 |
{rows}

* Login overhead beyond the hash over HTTP (p50 success / p50 hash − 1): **{f.overhead * 100:.1f} %** —
  goal ≤ {GOAL * 100:.0f} %: {verdict}.
* The login use case alone, in process (database work, token signing, events; no HTTP, no relay):
  p50 {f.in_process_p50_ms:.1f} ms against a hash of {f.in_process_hash_p50_ms:.1f} ms timed alternately,
  overhead **{f.in_process_overhead * 100:.1f} %**. The rest of the HTTP figure is the HTTP round trip and
  the relay publishing the login event, sharing {f.threads} cores with the hash.
* Throughput: {f.login_per_s:.1f} logins/s against {f.hash_per_s:.1f} hashes/s with {f.threads} threads
  (ratio **{f.login_per_s / f.hash_per_s:.2f}**); {f.login_errors} unexpected answers.
* Refusals (unknown tenant, unknown user, wrong password, locked) each spend one hash too: their
  latency is the success's within the spread above, so timing does not tell them apart.
{END}"""


def main() -> None:
    f = run(int(os.environ.get("BENCH_SECONDS", "10")))
    print(f"one argon2id hash p50 {f.hash_p50_ms:.1f} ms; {f.hash_per_s:.1f} hashes/s with {f.threads} threads")
    for lat in f.latencies:
        print(f"login {lat.name}: p50 {lat.p50_ms:.1f} ms p99 {lat.p99_ms:.1f} ms (n={lat.n})")
    print(f"login overhead beyond the hash: {f.overhead * 100:.1f} % over HTTP (goal <= {GOAL * 100:.0f} %); "
          f"use case in process {f.in_process_p50_ms:.1f} ms vs hash {f.in_process_hash_p50_ms:.1f} ms = "
          f"{f.in_process_overhead * 100:.1f} %")
    print(f"throughput {f.login_per_s:.1f} logins/s vs {f.hash_per_s:.1f} hashes/s; {f.login_errors} unexpected")
    write_section("bench_login", markdown(f))
    print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
