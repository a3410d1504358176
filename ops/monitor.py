"""The monitor: logs in through the gateway with the monitoring account and touches every service,
then checks each service database, NATS/JetStream, disk space and the age of the last good backup.

    python -m ops.monitor                 one run, a table; exit 0 ok, 1 warning, 2 critical/down
    python -m ops.monitor --prometheus    the same run as Prometheus text
    python -m ops.monitor --loop          every ROUMU_MONITOR_INTERVAL_SECONDS, writing the textfile
                                          (<var>/metrics/roumu_monitor.prom) and serving it on --port
    python -m ops.monitor --health        exit 0 when the loop's textfile is fresh (container healthcheck)

A service is up when, through the gateway, it answers the probe with anything below 500 (the
monitoring account is a `staff` user without menus, so a 403 or 404 from the service itself still
proves it is there); a 5xx, which is also what the gateway answers for a service it cannot reach, or
no answer within ROUMU_MONITOR_TIMEOUT_SECONDS, is down. The login itself is a check (auth and the
gateway). The monitor creates the account with `python -m ops.seed monitor`."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from ops.backup.drill import drill_record_path, read_drill_record
from ops.backup.drill_rules import drill_status
from ops.backup.job import backed_up_services, resolve_paths
from ops.backup.settings import BackupSettings, MonitorSettings
from ops.backup.sources import kind_of, sqlite_path
from ops.backup.targets import DirectoryTarget
from shared.settings import CommonSettings
from shared.topology import GATEWAY_PORT, ROUTED

OK, WARN, CRIT = "ok", "warning", "critical"
SEVERITY = {OK: 0, WARN: 1, CRIT: 2}
# A path each service answers for the monitoring account: a real read where one exists, else an
# unknown path under the service's prefix (its own 404 proves it answered).
PROBES = {"auth": "/api/v1/auth/me", "accounts": "/api/v1/accounts/me/permissions"}
TOKEN_REUSE_S = 600.0  # in a loop, log in again every 10 minutes (the login rate limit is per hour)


@dataclass
class Check:
    kind: str  # login | service | database | nats | disk | backup | drill
    name: str
    status: str  # ok | warning | critical
    latency_s: float | None = None
    value: float | None = None  # size, ratio, age: what the threshold is on
    detail: str = ""

    @property
    def up(self) -> bool:
        return self.status != CRIT


class Monitor:
    def __init__(self, common: CommonSettings, settings: MonitorSettings, backup: BackupSettings) -> None:
        self.common = common
        self.s = settings
        self.backup = backup
        self.gateway = (settings.gateway_url or
                        f"http://127.0.0.1:{os.environ.get('ROUMU_GATEWAY_PORT') or GATEWAY_PORT}").rstrip("/")
        self._token: tuple[str, float] | None = None

    # --- through the gateway -------------------------------------------------------------
    def login(self, client: httpx.Client, reuse: bool) -> tuple[Check, str | None]:
        if reuse and self._token and time.monotonic() - self._token[1] < TOKEN_REUSE_S:
            return Check("login", "gateway", OK, None, None, "token reused"), self._token[0]
        if not self.s.password:
            return Check("login", "gateway", CRIT, detail="ROUMU_MONITOR_PASSWORD is not set"), None
        t = time.monotonic()
        try:
            r = client.post("/api/v1/auth/login", json={"tenant_code": self.s.tenant, "login_id": self.s.login,
                                                         "password": self.s.password})
        except httpx.HTTPError as exc:
            return Check("login", "gateway", CRIT, time.monotonic() - t, detail=type(exc).__name__), None
        latency = time.monotonic() - t
        body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
        token = body.get("access_token") if r.status_code == 200 else None
        if not token:
            # e.g. password_change_required: the password breaks the tenant's policy or has expired.
            why = body.get("status") or body.get("title") or ""
            return Check("login", "gateway", CRIT, latency, detail=f"HTTP {r.status_code} {why}".strip()), None
        self._token = (str(token), time.monotonic())
        return Check("login", "gateway", OK, latency, detail="HTTP 200"), str(token)

    def services(self, client: httpx.Client, token: str | None) -> list[Check]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        out = []
        for route, info in sorted(ROUTED.items(), key=lambda kv: kv[1].name):
            path = PROBES.get(info.name, f"/api/v1/{route}/monitor-probe")
            t = time.monotonic()
            try:
                r = client.get(path, headers=headers)
                latency = time.monotonic() - t
                status = OK if r.status_code < 500 else CRIT
                out.append(Check("service", info.name, status, latency, None, f"HTTP {r.status_code}"))
            except httpx.HTTPError as exc:
                out.append(Check("service", info.name, CRIT, time.monotonic() - t, None,
                                 f"no answer ({type(exc).__name__})"))
        return out

    # --- behind the services ---------------------------------------------------------------
    def databases(self) -> list[Check]:
        out = []
        for name in backed_up_services():
            url = self.common.database_url(name)
            t = time.monotonic()
            try:
                size = database_size(url, self.s.timeout_seconds)
            except Exception as exc:
                out.append(Check("database", name, CRIT, time.monotonic() - t, None, str(exc)[:200]))
                continue
            status = WARN if size >= self.s.database_warn_bytes else OK
            out.append(Check("database", name, status, time.monotonic() - t, float(size), f"{size} bytes"))
        return out

    def nats(self) -> Check:
        t = time.monotonic()
        try:
            used, limit = asyncio.run(asyncio.wait_for(stream_usage(self.common), self.s.timeout_seconds * 2))
        except Exception as exc:
            return Check("nats", self.common.nats_stream, CRIT, time.monotonic() - t, None,
                         f"unreachable ({type(exc).__name__})")
        latency = time.monotonic() - t
        if limit <= 0:
            return Check("nats", self.common.nats_stream, OK, latency, 0.0, f"{used} bytes, no limit")
        ratio = used / limit
        return Check("nats", self.common.nats_stream, self._level(ratio, self.s.stream_warn_ratio,
                                                                  self.s.stream_critical_ratio),
                     latency, ratio, f"{used} of {limit} bytes")

    def disks(self) -> list[Check]:
        paths = [Path(p.strip()) for p in self.s.disk_paths.split(",") if p.strip()]
        if not paths:
            bp = resolve_paths(self.common, self.backup)
            paths = [self.common.var_dir, bp.primary] + ([bp.secondary] if bp.secondary else [])
        out, seen = [], set()
        for p in paths:
            existing = next((q for q in [p, *p.parents] if q.exists()), None)
            if existing is None:
                continue
            usage = shutil.disk_usage(existing)
            if (usage.total, usage.used) in seen:
                continue  # the same filesystem
            seen.add((usage.total, usage.used))
            ratio = usage.used / usage.total if usage.total else 0.0
            out.append(Check("disk", str(p), self._level(ratio, self.s.disk_warn_ratio, self.s.disk_critical_ratio),
                             None, ratio, f"{usage.free // 1024**2} MiB free of {usage.total // 1024**2} MiB"))
        return out

    def last_backup(self) -> Check:
        primary = DirectoryTarget("primary", resolve_paths(self.common, self.backup).primary)
        good = [r for r in primary.records() if r.status == "verified"]
        if not good:
            return Check("backup", "primary", WARN, None, None, "no verified backup yet")
        age_h = (datetime.now(UTC) - good[-1].created).total_seconds() / 3600
        status = OK if age_h <= self.s.backup_max_age_hours else CRIT
        return Check("backup", "primary", status, None, age_h * 3600, f"{good[-1].backup_id}, {age_h:.1f} h old")

    def last_drill(self) -> Check:
        """The monthly restore drill: failed (or slower than the RTO) or overdue is critical."""
        record = read_drill_record(drill_record_path(resolve_paths(self.common, self.backup).metrics))
        st = drill_status(record, datetime.now(UTC), self.s.drill_max_age_days)
        return Check("drill", "restore", {"ok": OK, "warn": WARN, "crit": CRIT}[st.level], None, st.age_seconds,
                     st.message)

    @staticmethod
    def _level(ratio: float, warn: float, crit: float) -> str:
        return CRIT if ratio >= crit else WARN if ratio >= warn else OK

    def run(self, reuse_token: bool = False) -> list[Check]:
        with httpx.Client(base_url=self.gateway, timeout=self.s.timeout_seconds) as client:
            login, token = self.login(client, reuse_token)
            checks = [login, *self.services(client, token)]
        return checks + self.databases() + [self.nats()] + self.disks() + [self.last_backup(), self.last_drill()]


def database_size(url: str, timeout: float) -> int:
    if kind_of(url) == "sqlite":
        path = sqlite_path(url)
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
        lite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
        try:
            lite.execute("SELECT 1").fetchone()
        finally:
            lite.close()
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0


async def stream_usage(common: CommonSettings) -> tuple[int, int]:
    from shared.nats_auth import OPS
    from shared.nats_client import connect

    nc = await connect(common.nats_access(OPS), "ops-monitor", max_reconnect_attempts=0, allow_reconnect=False)
    try:
        info = await nc.jetstream().stream_info(common.nats_stream)
        return int(info.state.bytes or 0), int(info.config.max_bytes or -1)
    finally:
        await nc.close()


def status_of(checks: Sequence[Check]) -> int:
    return max((SEVERITY[c.status] for c in checks), default=0)


def render_table(checks: Sequence[Check]) -> str:
    rows = [f"{'check':<9} {'name':<28} {'status':<9} {'latency':>9}  detail"]
    for c in checks:
        state = ("up" if c.up else "DOWN") if c.kind in ("service", "login", "database", "nats") else c.status
        if c.kind in ("service", "login", "database", "nats") and c.status == WARN:
            state = "up (warn)"
        lat = f"{c.latency_s * 1000:.0f} ms" if c.latency_s is not None else "-"
        rows.append(f"{c.kind:<9} {c.name:<28} {state:<9} {lat:>9}  {c.detail}")
    rows.append(f"overall: {['ok', 'warning', 'critical'][status_of(checks)]}")
    return "\n".join(rows)


def _label(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_prometheus(checks: Sequence[Check]) -> str:
    families: dict[str, tuple[str, list[str]]] = {}

    def add(name: str, help_: str, labels: str, value: float) -> None:
        families.setdefault(name, (help_, []))[1].append(f"{name}{{{labels}}} {value:g}")

    for c in checks:
        lab = f'name="{_label(c.name)}"'
        if c.kind in ("login", "service", "database", "nats"):
            add(f"roumu_monitor_{c.kind}_up", f"1 when the {c.kind} check answered", lab, int(c.up))
            if c.latency_s is not None:
                add(f"roumu_monitor_{c.kind}_latency_seconds", f"latency of the {c.kind} check", lab, c.latency_s)
        if c.kind == "database" and c.value is not None:
            add("roumu_monitor_database_size_bytes", "size of each service database", lab, c.value)
        if c.kind == "nats" and c.value is not None:
            add("roumu_monitor_stream_used_ratio", "JetStream stream bytes over its limit", lab, c.value)
        if c.kind == "disk" and c.value is not None:
            add("roumu_monitor_disk_used_ratio", "used over total space of the filesystem", f'path="{_label(c.name)}"',
                c.value)
        if c.kind == "backup" and c.value is not None:
            add("roumu_monitor_backup_age_seconds", "age of the newest verified backup", lab, c.value)
        if c.kind == "drill" and c.value is not None:
            add("roumu_monitor_drill_age_seconds", "age of the last restore drill", lab, c.value)
        add("roumu_monitor_check_status", "0 ok, 1 warning, 2 critical", f'kind="{c.kind}",{lab}',
            SEVERITY[c.status])
    add("roumu_monitor_run_timestamp_seconds", "when this run ended", 'name="monitor"', time.time())
    out = []
    for name, (help_, samples) in families.items():
        out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", *samples]
    return "\n".join(out) + "\n"


def textfile_path(common: CommonSettings, backup: BackupSettings) -> Path:
    return resolve_paths(common, backup).metrics.with_name("roumu_monitor.prom")


def serve(port: int, latest: list[str]) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (latest[0] if latest else "").encode()
            self.send_response(200 if self.path.startswith("/metrics") else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((os.environ.get("ROUMU_BIND_HOST", "127.0.0.1"), port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.monitor", description=__doc__.split("\n")[0])
    parser.add_argument("--prometheus", action="store_true", help="Prometheus text instead of the table")
    parser.add_argument("--loop", action="store_true", help="run every ROUMU_MONITOR_INTERVAL_SECONDS")
    parser.add_argument("--port", type=int, default=0, help="with --loop: serve /metrics on this port")
    parser.add_argument("--health", action="store_true", help="exit 0 when the loop's textfile is fresh")
    args = parser.parse_args(argv)

    from ops.devrun import resolve_settings

    common, settings, backup = resolve_settings(), MonitorSettings(), BackupSettings()
    textfile = textfile_path(common, backup)
    if args.health:
        try:
            fresh = time.time() - textfile.stat().st_mtime < 3 * settings.interval_seconds + 30
        except OSError:
            return 1
        return 0 if fresh else 1
    monitor = Monitor(common, settings, backup)
    if not args.loop:
        checks = monitor.run()
        print(render_prometheus(checks) if args.prometheus else render_table(checks), end="\n" * (not args.prometheus))
        return status_of(checks)
    latest: list[str] = []
    if args.port:
        serve(args.port, latest)
    while True:
        checks = monitor.run(reuse_token=True)
        text = render_prometheus(checks)
        latest[:] = [text]
        textfile.parent.mkdir(parents=True, exist_ok=True)
        tmp = textfile.with_name(textfile.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(textfile)
        print(render_prometheus(checks) if args.prometheus else render_table(checks), flush=True)
        time.sleep(settings.interval_seconds)


if __name__ == "__main__":
    sys.exit(main())
