"""The restore drill (monthly, docs/operations.md): the newest verified generation (or a chosen
one) is decrypted and checked, restored into scratch databases and a scratch file store, checked
again (row counts per table against the manifest, alembic current == head, SQLite integrity, file
checksums), then the whole stack is started on the restored data (ops.devrun, own NATS, free ports,
e-Gov worker off) and a login through the gateway proves it serves. The time from the start to
that login is the measured RTO; the backup's age at the start is the RPO."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ops.backup import archive, repurge, sources
from ops.backup.archive import BackupKeys
from ops.backup.drill_rules import rto_problem
from ops.backup.job import DATA_KEYS_MEMBER, RunResult, resolve_paths, run_alert, secondary_target
from ops.backup.keyring import load_backup_keys
from ops.backup.settings import BackupSettings, MonitorSettings
from ops.backup.targets import DirectoryTarget, Target
from shared.clock import SYSTEM_CLOCK, Clock
from shared.ports import free_port
from shared.settings import CommonSettings
from shared.tombstones import Ledger, tombstone_path
from shared.topology import SERVICES

ROOT = Path(__file__).resolve().parents[2]
STACK_TIMEOUT_S = 180.0


class DrillError(RuntimeError):
    pass


class _Skip(Exception):
    """--no-stack: the restore and checks are done."""


@dataclass
class DrillReport:
    backup_id: str = ""
    backup_created_at: datetime | None = None
    rpo_seconds: float = 0.0
    rto_seconds: float | None = None
    phases: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    restored_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    files_checked: int = 0
    restored_files: dict[str, str] = field(default_factory=dict)  # path in the store → sha256
    repurged: dict[str, dict[str, int]] = field(default_factory=dict)  # tenant → service → rows
    database_urls: dict[str, str] = field(default_factory=dict)
    scratch: Path | None = None
    login_ok: bool = False
    stack_started: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        taken = self.backup_created_at.isoformat() if self.backup_created_at else "?"
        out = [f"backup:      {self.backup_id} (taken {taken})"]
        for name, secs in self.phases.items():
            out.append(f"  {name:<22} {secs:8.2f} s")
        out.append(f"databases:   {len(self.restored_counts)} restored, "
                   f"{sum(sum(t.values()) for t in self.restored_counts.values())} rows in all")
        out.append(f"files:       {self.files_checked} checked")
        back = sorted(t for t, c in self.repurged.items() if any(c.values()))
        out.append(f"tombstones:  {len(self.repurged)} purged tenants purged again"
                   + (f"; the backup had brought back {', '.join(back)}" if back else ""))
        out.append(f"login:       {'ok through the gateway' if self.login_ok else 'NOT done'}")
        for p in self.problems:
            out.append(f"PROBLEM:     {p}")
        out.append(f"RPO (backup age): {format_duration(self.rpo_seconds)} ({self.rpo_seconds:.0f} s)")
        rto = (f"{self.rto_seconds:.1f} s" if self.rto_seconds is not None
               else "not measured (no login through the gateway)")
        out.append(f"RTO (measured):   {rto}")
        out.append("drill: OK" if self.ok else "drill: FAILED")
        return out


def format_duration(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d} d " if d else "") + f"{h} h {m} min {s} s"


def _scratch_url(live_url: str, server_url: str, name: str) -> str:
    base = make_url(server_url or live_url)
    return base.set(database=name).render_as_string(hide_password=False)


def pick_generation(target: Target, backup_id: str | None) -> str:
    records = target.records()
    if backup_id:
        if not any(r.backup_id == backup_id for r in records):
            raise DrillError(f"no generation {backup_id} on the {target.name} target ({target.path})")
        return backup_id
    good = [r for r in records if r.status == "verified" and target.has(r.backup_id)]
    if not good:
        raise DrillError(f"no verified generation on the {target.name} target ({target.path})")
    return good[-1].backup_id


def run_drill(common: CommonSettings, backup: BackupSettings, monitor: MonitorSettings, *,
              backup_id: str | None = None, from_secondary: bool = False, scratch_dir: Path | None = None,
              keep: bool = False, start_stack: bool = True, keys: BackupKeys | None = None,
              clock: Clock = SYSTEM_CLOCK, out: IO[str] | None = None, alert: bool = True) -> DrillReport:
    out = out or sys.stdout
    t0 = time.monotonic()
    started_at = clock.now()
    report = DrillReport()
    paths = resolve_paths(common, backup)
    keys = keys or load_backup_keys(backup, common.keys_dir)
    secondary = secondary_target(common, backup) if from_secondary else None
    target: Target = secondary or DirectoryTarget("primary", paths.primary)
    scratch = Path(tempfile.mkdtemp(prefix="roumu-drill-", dir=scratch_dir))
    report.scratch = scratch
    var = scratch / "var"
    created_pg: list[str] = []
    stack: _Stack | None = None

    def phase(name: str, since: float) -> float:
        now = time.monotonic()
        report.phases[name] = now - since
        say(out, f"{name}: {now - since:.2f} s")
        return now

    try:
        report.backup_id = pick_generation(target, backup_id)
        say(out, f"restore drill of {report.backup_id} from the {target.name} target into {scratch}")
        t = time.monotonic()
        extract = scratch / "restore"
        extract.mkdir(mode=0o700)
        # From an S3 store the archive is downloaded first (into the scratch folder's cache).
        manifest = archive.open_archive(target.local_archive(report.backup_id), keys, extract_to=extract)
        report.backup_created_at = datetime.fromisoformat(manifest["created_at"])
        report.rpo_seconds = (started_at - report.backup_created_at).total_seconds()
        t = phase("decrypt and checksums", t)

        pg_prefix = f"{backup.drill_database_prefix}_{secrets.token_hex(3)}"
        pg_template = ""
        for service, info in sorted(manifest["services"].items()):
            member = extract / info["member"]
            if info["kind"] == "sqlite":
                url = f"sqlite:///{(var / 'db' / f'{service}.db').as_posix()}"
            else:
                url = _scratch_url(common.database_url(service), backup.drill_postgres_url, f"{pg_prefix}_{service}")
                pg_template = _scratch_url(common.database_url(service), backup.drill_postgres_url,
                                           f"{pg_prefix}_SERVICE").replace("SERVICE", "{service}")
                sources.create_database(url)
                created_pg.append(url)
            sources.restore(info["kind"], member, url)
            report.database_urls[service] = url
        t = phase("restore databases", t)

        for service, info in sorted(manifest["services"].items()):
            url = report.database_urls[service]
            counts, revision = sources.table_counts(url)
            report.restored_counts[service] = counts
            if counts != info["tables"]:
                diff = {k: (info["tables"].get(k), counts.get(k)) for k in set(counts) | set(info["tables"])
                        if counts.get(k) != info["tables"].get(k)}
                report.problems.append(f"{service}: row counts differ from the manifest (manifest, restored): {diff}")
            heads = sources.alembic_heads(service)
            if revision not in heads:
                report.problems.append(f"{service}: alembic current {revision} is not head {heads}")
            report.problems += [f"{service}: {p}" for p in sources.integrity_problems(url)]

        store = var / "files"
        for member, info in manifest["files"].items():
            dest = store / info["path"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(extract / member, dest)
            report.restored_files[info["path"]] = archive.sha256_file(dest)
            if report.restored_files[info["path"]] != info["sha256"]:
                report.problems.append(f"file {info['path']}: checksum differs after restore")
            report.files_checked += 1
        keys_dir = var / "keys"
        keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        data_keys = None
        for member in manifest["keys"]:
            if member == DATA_KEYS_MEMBER:
                data_keys = (extract / member).read_text().strip()
                continue
            shutil.move(extract / member, keys_dir / Path(member).name)
        shutil.rmtree(extract, ignore_errors=True)  # plaintext dumps: gone as soon as restored
        t = phase("consistency checks", t)

        if report.problems:
            raise DrillError("the restored data does not match the manifest")
        # Before anything serves the restored data: no tenant deleted since the backup comes back.
        ledger = Ledger(tombstone_path(common))
        say(out, f"tombstones: {ledger.path}" + ("" if ledger.path.exists() else " (none yet: no tenant purged)"))
        try:
            report.repurged = repurge.repurge(report.database_urls, ledger, store)
        except SQLAlchemyError as exc:
            # Never start on data that may hold a deleted tenant: the drill fails, and says why.
            raise DrillError(f"re-purging the deleted tenants failed: {exc}") from exc
        t = phase("re-purge deleted tenants", t)
        if not start_stack:
            raise _Skip
        if not monitor.password:
            raise DrillError("ROUMU_MONITOR_PASSWORD is not set: the drill cannot log in through the gateway")
        stack = _Stack(var, pg_template, data_keys)
        stack.start()
        report.stack_started = True
        t = phase("start the stack", t)
        login(stack.url, monitor)
        report.login_ok = True
        phase("login through the gateway", t)
        report.rto_seconds = time.monotonic() - t0
        too_slow = rto_problem(report.rto_seconds, backup.drill_rto_limit_seconds)
        if too_slow:
            report.problems.append(too_slow)
    except _Skip:
        say(out, "services not started (--no-stack): no login, no RTO")
    except (DrillError, archive.ArchiveError, sources.SourceError, OSError) as exc:
        report.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        if stack is not None:
            stack.stop()
        if not keep:
            for url in created_pg:
                try:
                    sources.drop_database(url)
                except Exception as exc:
                    report.problems.append(f"scratch database not dropped: {exc}")
            shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(scratch / "restore", ignore_errors=True)
    for line in report.lines():
        say(out, line)
    if keep:
        say(out, f"kept: {scratch}")
        for service, url in report.database_urls.items():
            say(out, f"  {service}: {make_url(url).render_as_string(hide_password=True)}")
    metrics = resolve_paths(common, backup).metrics
    write_drill_metrics(metrics.with_name("roumu_backup_drill.prom"), report)
    write_drill_record(drill_record_path(metrics), report, started_at)
    if not report.ok and alert:
        drill_alert(backup, report)
    return report


def drill_record_path(metrics: Path) -> Path:
    return metrics.with_name("roumu_backup_drill.json")


def read_drill_record(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def write_drill_record(path: Path, report: DrillReport, at: datetime) -> None:
    """The last drill's result, for the monitor and the monthly schedule (no secrets, no data)."""
    body = {"at": at.isoformat(), "ok": report.ok, "backup_id": report.backup_id,
            "rto_seconds": report.rto_seconds, "rpo_seconds": report.rpo_seconds,
            "stack_started": report.stack_started, "problems": report.problems[:10]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(body, indent=1))
        tmp.replace(path)
    except OSError as exc:
        print(f"[roumu] WARNING: drill record not written to {path}: {exc}", file=sys.stderr)


def drill_alert(backup: BackupSettings, report: DrillReport) -> None:
    """A failed drill (or one slower than the RTO) through the backup's alert hook."""
    result = RunResult(report.backup_id or "-", ok=False, created_at=datetime.now(UTC))
    result.stage, result.error = "restore drill", "; ".join(report.problems)[:500]
    run_alert(backup, result)


def say(out: IO[str], msg: str) -> None:
    print(f"[roumu drill] {msg}", file=out, flush=True)


def login(gateway_url: str, monitor: MonitorSettings) -> None:
    with httpx.Client(base_url=gateway_url, timeout=monitor.timeout_seconds * 2) as client:
        r = client.post("/api/v1/auth/login", json={"tenant_code": monitor.tenant, "login_id": monitor.login,
                                                     "password": monitor.password})
        if r.status_code != 200 or "access_token" not in r.json():
            raise DrillError(f"login through the gateway answered {r.status_code}: {r.text[:300]}")
        health = client.get("/healthz")
        down = {k: v for k, v in health.json().get("services", {}).items() if v != "up"}
        if health.status_code != 200 or down:
            raise DrillError(f"the gateway reports services down on the restored data: {down}")




class _Stack:
    """ops.devrun on the restored data: own nats-server, free ports, nothing shared with the live one."""

    def __init__(self, var: Path, pg_template: str, data_keys: str | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROUMU_") and k != "NATS_URL"}
        env |= {"ROUMU_VAR_DIR": str(var), "ROUMU_KEYS_DIR": str(var / "keys"), "ROUMU_ENV": "drill",
                "ROUMU_GATEWAY_PORT": str(self.port), "PYTHONUNBUFFERED": "1",
                # Keep the restored credentials as they are, and never file with e-Gov from a drill.
                "ROUMU_DEMO_ADMIN_PASSWORD": "", "ROUMU_EFILING_WORKER_ENABLED": "false"}
        if pg_template:
            env["ROUMU_DATABASE_URL_TEMPLATE"] = pg_template
        if data_keys:
            env["ROUMU_DATA_KEYS"] = data_keys
        for s in SERVICES:
            env[f"ROUMU_{s.name.upper()}_PORT"] = str(free_port())
        self.env = env
        self.log = var.parent / "devrun.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ops.devrun"], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + STACK_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if "Roumu is running" in text:
                return
            if self.proc.poll() is not None:
                raise DrillError("the stack did not start on the restored data:\n" + text[-2000:])
            time.sleep(0.25)
        raise DrillError(f"the stack did not start within {STACK_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def write_drill_metrics(path: Path, report: DrillReport) -> None:
    lines: list[Any] = [
        "# HELP roumu_backup_drill_success 1 when the last restore drill passed every check and logged in.",
        "# TYPE roumu_backup_drill_success gauge",
        f"roumu_backup_drill_success {int(report.ok and report.login_ok)}",
        "# HELP roumu_backup_drill_rto_seconds Measured restore time of the last drill.",
        "# TYPE roumu_backup_drill_rto_seconds gauge",
        f"roumu_backup_drill_rto_seconds {report.rto_seconds if report.rto_seconds is not None else 'NaN'}",
        "# HELP roumu_backup_drill_rpo_seconds Age of the backup the last drill restored.",
        "# TYPE roumu_backup_drill_rpo_seconds gauge",
        f"roumu_backup_drill_rpo_seconds {report.rpo_seconds:.0f}",
        "# HELP roumu_backup_drill_timestamp_seconds When the last drill ran.",
        "# TYPE roumu_backup_drill_timestamp_seconds gauge",
        f"roumu_backup_drill_timestamp_seconds {time.time():.0f}",
    ]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("\n".join(str(x) for x in lines) + "\n")
        tmp.replace(path)
    except OSError:
        pass
