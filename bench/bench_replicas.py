"""The gateway in front of one and of two replicas of accounts, same read, same run.

Starts a nats-server, two accounts processes on one PostgreSQL database (replicas share it), and
two gateways (one worker each): one given the first replica's URL, the other both
(ROUMU_ACCOUNTS_URL=http://…,http://…, gateway/balancer.py). The same request — GET a tenant with
a bearer token, a token check and a database read — is measured through each, in alternating
rounds so the machine's drift hits both alike. CPU per request is the CPU time (user + system,
from /proc) the gateway and the accounts processes spent during a measurement, over its requests;
the load generator's own CPU is not in it.

PostgreSQL: BENCH_POSTGRES_URL, else ROUMU_TEST_POSTGRES_URL, else the machine's
postgresql+psycopg://postgres@127.0.0.1:5432/test; a database of its own is created and dropped."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench.common import OUT, markers, stop_process, wait_ready, write_section
from bench.load import LoadResult, run_load, wrk_available
from ops.migrate import migrate
from shared.keys import ensure_keys
from shared.ports import free_port
from shared.settings import CommonSettings
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER, TokenSigner
from tests.support.nats_server import server_with_users

ROOT = Path(__file__).resolve().parents[1]
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


@dataclass(frozen=True)
class Measured:
    load: LoadResult
    cpu_s: float

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s * 1000 / max(1, self.load.requests)


@dataclass
class Result:
    one: list[Measured]
    two: list[Measured]
    load_before: float = 0.0  # 1-minute load average: other work on the machine
    load_after: float = 0.0

    @property
    def ratio(self) -> float:
        return statistics.median(m.load.rps for m in self.two) / statistics.median(m.load.rps for m in self.one)


def _measure(url: str, headers: dict[str, str], pids: list[int], seconds: int, connections: int) -> Measured:
    before = _cpu_seconds(pids)
    load = run_load(url, headers, seconds, connections)
    return Measured(load, _cpu_seconds(pids) - before)


def run(seconds: int = 10, connections: int = 32, rounds: int = 3) -> Result:
    admin_url = (os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("ROUMU_TEST_POSTGRES_URL")
                 or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    db_name = f"roumu_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    template = admin_url.rsplit("/", 1)[0] + f"/{db_name}"  # the one service here: no {service}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="roumu-bench-") as tmp_name:
        tmp = Path(tmp_name)
        nats = server_with_users(tmp / "nats", tmp / "keys", CommonSettings().nats_stream)
        nats.start()
        try:
            settings = CommonSettings(var_dir=tmp, keys_dir=tmp / "keys", nats_url=nats.url,
                                      database_url_template=template, log_level="WARNING")
            ensure_keys(settings.keys_dir)
            migrate(["accounts"], settings)
            ports = [free_port(), free_port()]
            huge = "100000000/minute"
            env = {**os.environ, "ROUMU_VAR_DIR": str(tmp), "ROUMU_KEYS_DIR": str(settings.keys_dir),
                   "ROUMU_NATS_URL": nats.url, "ROUMU_DATABASE_URL_TEMPLATE": template, "ROUMU_DB_REPLICAS": "2",
                   "ROUMU_LOG_LEVEL": "WARNING", "ROUMU_BIND_HOST": "127.0.0.1", "ROUMU_GATEWAY_WORKERS": "1",
                   "ROUMU_GATEWAY_KEEPALIVE_TIMEOUT": "120",
                   "ROUMU_GATEWAY_RATE_LIMIT_IP": huge, "ROUMU_GATEWAY_RATE_LIMIT_USER": huge,
                   "ROUMU_GATEWAY_RATE_LIMIT_TENANT": huge, "ROUMU_GATEWAY_RATE_LIMIT_PARTNER": huge,
                   "ROUMU_GATEWAY_CONCURRENCY_ANONYMOUS": "100000", "ROUMU_GATEWAY_CONCURRENCY_TENANT": "100000"}
            log = (tmp / "servers.log").open("ab")
            accounts = []
            for port in ports:
                accounts.append(subprocess.Popen(
                    [sys.executable, "-m", "ops.serve", "accounts"], cwd=ROOT,
                    env={**env, "ROUMU_ACCOUNTS_PORT": str(port)}, stdout=log, stderr=log))
            procs += accounts
            urls = [f"http://127.0.0.1:{p}" for p in ports]
            gateways: list[tuple[str, subprocess.Popen[bytes]]] = []
            for listed in (urls[:1], urls):
                gw_port = free_port()
                proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, stdout=log, stderr=log,
                                        env={**env, "ROUMU_ACCOUNTS_URL": ",".join(listed),
                                             "ROUMU_GATEWAY_PORT": str(gw_port)})
                procs.append(proc)
                gateways.append((f"http://127.0.0.1:{gw_port}", proc))
            for url, proc in zip(urls, accounts, strict=True):
                wait_ready(f"{url}/readyz", proc, "accounts")
            for url, proc in gateways:
                wait_ready(f"{url}/readyz", proc, "gateway")

            signer = TokenSigner(settings.keys_dir, "access")
            operator = signer.sign({"sub": "bench-op", "typ": "access", "kind": "operator", "roles": ["operator"],
                                    "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, 3600)
            auth = {"Authorization": f"Bearer {operator}"}
            r = httpx.post(f"{urls[0]}/api/v1/accounts/tenants", headers=auth, json={
                "code": "bench", "name": "ベンチ事務所", "kind": "sharoushi", "contract_start": "2026-04-01"})
            r.raise_for_status()
            path = f"/api/v1/accounts/tenants/{r.json()['id']}"
            (one_url, one_gw), (two_url, two_gw) = gateways
            one_pids = [one_gw.pid, accounts[0].pid]
            two_pids = [two_gw.pid, *(p.pid for p in accounts)]
            for base in (one_url, two_url):
                run_load(base + path, auth, 2, connections)  # warm pools and caches
            result = Result([], [], load_before=os.getloadavg()[0])
            for i in range(rounds):
                result.one.append(_measure(one_url + path, auth, one_pids, seconds, connections))
                result.two.append(_measure(two_url + path, auth, two_pids, seconds, connections))
                print(f"round {i + 1}: {_line('1 replica ', result.one[-1])} | {_line('2 replicas', result.two[-1])}",
                      flush=True)
            result.load_after = os.getloadavg()[0]
            print(f"2 replicas / 1 replica throughput (median of rounds): {result.ratio:.2f}", flush=True)
            return result
        finally:
            for p in reversed(procs):
                stop_process(p)
            nats.stop()
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            admin.dispose()


def _line(label: str, m: Measured) -> str:
    return (f"{label} {m.load.rps:,.0f} req/s p50 {m.load.p50_ms:.1f} ms p99 {m.load.p99_ms:.1f} ms, "
            f"CPU {m.cpu_ms_per_request:.2f} ms/request, unexpected {m.load.unexpected}")


def markdown(result: Result, seconds: int, connections: int) -> str:
    tool = result.one[0].load.tool if result.one else ("wrk" if wrk_available() else "httpx")
    rows = ["| round | replicas | requests/s | p50 ms | p99 ms | CPU ms / request | unexpected |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for i, (one, two) in enumerate(zip(result.one, result.two, strict=True), 1):
        for n, m in ((1, one), (2, two)):
            rows.append(f"| {i} | {n} | {m.load.rps:,.0f} | {m.load.p50_ms:.1f} | {m.load.p99_ms:.1f} | "
                        f"{m.cpu_ms_per_request:.2f} | {m.load.unexpected} |")
    cpu_one = statistics.median(m.cpu_ms_per_request for m in result.one)
    cpu_two = statistics.median(m.cpu_ms_per_request for m in result.two)
    per_round = ", ".join(f"{two.load.rps / one.load.rps:.2f}" for one, two in zip(result.one, result.two, strict=True))
    return "\n".join([
        "## Gateway with 1 and with 2 replicas of accounts (bench/bench_replicas.py)",
        "",
        "Method: two accounts processes (`python -m ops.serve accounts`) on one PostgreSQL database, and two "
        "gateways (`python -m gateway`, one worker each) started side by side: one given the first replica's "
        "URL, the other both (`ROUMU_ACCOUNTS_URL=http://…,http://…`, least outstanding requests). The same "
        f"read — GET a tenant with a bearer token — through each, `{tool}` with {connections} connections, "
        f"{seconds} s per measurement after a 2 s warm-up, the two alternating in {len(result.one)} rounds. "
        "CPU per request: user + system time of the gateway and of the accounts process(es) it used, during "
        "the measurement, over its requests (the load generator not counted).",
        "",
        *rows,
        "",
        f"* 2 replicas / 1 replica throughput (median of rounds): **{result.ratio:.2f}**; CPU per request "
        f"{cpu_one:.2f} ms with one replica, {cpu_two:.2f} ms with two. Per round: {per_round}. Load average "
        f"(1 min) before / after: {result.load_before:.1f} / {result.load_after:.1f}.",
        "",
        "Reading it: this machine has 2 cores, shared by the load generator, the gateway, PostgreSQL, the "
        "replicas and, during this run, other sessions' work. A second replica adds a Python process "
        "(another GIL) but no core, so little gain is expected here, and CPU per request shows what the "
        "request costs wherever it runs; replicas pay off where each gets cores of its own (a node per pod "
        "on Kubernetes), and for availability (a rolling restart with 0 failed requests, "
        "tests/scale/test_rolling_restart.py), whatever their throughput.",
    ])


BEGIN, END = markers("bench_replicas")


def main() -> None:
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
    result = run(seconds, connections)
    write_section("bench_replicas", markdown(result, seconds, connections))
    print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
