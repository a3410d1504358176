"""One backup run: dump every service database, copy the file store and the key material, write one
encrypted archive to the primary target, verify it (decrypt, every checksum), copy it to the
secondary target and check the copy, then apply retention. Every run ends in a record beside the
archive, a `roumu.ops.backup.completed` or `.failed` event, the Prometheus textfile, and on
failure the alert hook. A failed run deletes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ops.backup import archive, retention, sources
from ops.backup.archive import BackupKeys
from ops.backup.keyring import DEV_KEY_FILE, load_backup_keys
from ops.backup.settings import BackupSettings
from ops.backup.targets import DirectoryTarget, Record, S3Target, Target
from ops.migrate import migrations_dir
from services.files.storage import S3Error, S3Store
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import ENV as DATA_KEYS_ENV
from shared.events import Actor, EventEnvelope
from shared.settings import CommonSettings
from shared.topology import SERVICES

COMPLETED = "roumu.ops.backup.completed"
FAILED = "roumu.ops.backup.failed"
ACTOR = Actor(kind="system", id="ops.backup")
DATA_KEYS_MEMBER = "keys/data-keys.env"
# Uploads in flight (the files service's default tmp folder) are not part of the store.
SKIPPED_STORE_DIRS = frozenset({"tmp"})


@dataclass(frozen=True)
class Paths:
    primary: Path
    secondary: Path | None
    file_store: Path
    work: Path
    metrics: Path


def resolve_paths(common: CommonSettings, backup: BackupSettings) -> Paths:
    var = common.var_dir
    primary = backup.primary_dir or var / "backups" / "primary"
    secondary = backup.secondary_dir or var / "backups" / "secondary"
    return Paths(primary=primary, secondary=secondary, file_store=backup.file_store_dir or var / "files",
                 work=backup.work_dir or primary / ".work",
                 metrics=backup.metrics_file or var / "metrics" / "roumu_backup.prom")


def secondary_target(common: CommonSettings, backup: BackupSettings) -> Target | None:
    """The S3-compatible store when ROUMU_BACKUP_S3_ENDPOINT is set, else the secondary directory."""
    if backup.s3_endpoint:
        if not backup.s3_bucket:
            raise ValueError("ROUMU_BACKUP_S3_ENDPOINT needs ROUMU_BACKUP_S3_BUCKET")
        store = S3Store(backup.s3_endpoint, backup.s3_bucket, backup.s3_access_key_id, backup.s3_secret_access_key,
                        backup.s3_region, backup.s3_prefix)
        paths = resolve_paths(common, backup)
        return S3Target(store, paths.work / "s3-cache", backup.s3_object_lock_days)
    paths = resolve_paths(common, backup)
    return DirectoryTarget("secondary", paths.secondary) if paths.secondary else None


def backed_up_services() -> list[str]:
    return [s.name for s in SERVICES if migrations_dir(s.name).is_dir()]


@dataclass
class RunResult:
    backup_id: str
    ok: bool
    created_at: datetime
    duration_s: float = 0.0
    stage: str = ""
    error: str = ""
    size: int = 0
    sha256: str = ""
    databases: int = 0
    files: int = 0
    verified: bool = False
    deleted: dict[str, list[str]] = field(default_factory=dict)
    event_published: bool = False


class Stage:
    """Names the step in progress, so a failure says where it happened."""

    def __init__(self) -> None:
        self.name = "prepare"


def new_backup_id(now: datetime) -> str:
    return f"roumu-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def _stage_files(store: Path, staging: Path) -> dict[str, str]:
    """Copies the file store into staging under files/; returns member name → relative path."""
    out: dict[str, str] = {}
    if not store.is_dir():
        return out
    for path in sorted(store.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        rel = path.relative_to(store).as_posix()
        if rel.split("/", 1)[0] in SKIPPED_STORE_DIRS:
            continue
        member = f"files/{rel}"
        shutil.copyfile(path, archive.stage_member(staging, member))
        out[member] = rel
    return out


def _stage_keys(keys_dir: Path, staging: Path) -> list[str]:
    """The key material the data needs: signing keys, jwks, data keys (from the file or from
    ROUMU_DATA_KEYS). Never the backup key itself. Encrypted with everything else."""
    members: list[str] = []
    if keys_dir.is_dir():
        for path in sorted(keys_dir.iterdir()):
            if not path.is_file() or path.name.startswith(DEV_KEY_FILE) or path.name.endswith(".tmp"):
                continue
            member = f"keys/{path.name}"
            shutil.copyfile(path, archive.stage_member(staging, member))
            members.append(member)
    spec = os.environ.get(DATA_KEYS_ENV, "").strip()
    if spec:
        target = archive.stage_member(staging, DATA_KEYS_MEMBER)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(spec)
        members.append(DATA_KEYS_MEMBER)
    return members


def run_backup(common: CommonSettings, backup: BackupSettings, *, clock: Clock = SYSTEM_CLOCK,
               keys: BackupKeys | None = None, services: list[str] | None = None, publish: bool = True,
               alert: bool = True, after_write: Callable[[Path], None] | None = None) -> RunResult:
    """`after_write` is called with the archive's path before verification (tests corrupt it there)."""
    started = time.monotonic()
    now = clock.now()
    paths = resolve_paths(common, backup)
    keys = keys or load_backup_keys(backup, common.keys_dir)
    primary = DirectoryTarget("primary", paths.primary)
    secondary = secondary_target(common, backup)
    result = RunResult(new_backup_id(now), ok=False, created_at=now)
    stage = Stage()
    staging = paths.work / result.backup_id
    try:
        for t in (primary, secondary):
            if t is not None:
                t.ensure()
                t.clean_partials()
        staging.mkdir(parents=True, mode=0o700)
        service_info: dict[str, Any] = {}
        for name in services or backed_up_services():
            stage.name = f"dump {name}"
            url = common.database_url(name)
            kind = sources.kind_of(url)
            member = f"db/{name}.{'sqlite' if kind == 'sqlite' else 'pgdump'}"
            dumped = sources.dump(url, archive.stage_member(staging, member))
            service_info[name] = {"kind": dumped.kind, "member": member, "tables": dumped.tables,
                                  "revision": dumped.revision}
        stage.name = "files"
        files = _stage_files(paths.file_store, staging)
        stage.name = "keys"
        key_members = _stage_keys(common.keys_dir, staging)
        stage.name = "manifest"
        names = [str(s["member"]) for s in service_info.values()] + list(files) + key_members
        members = archive.describe_members(staging, names)
        manifest = {
            "format": archive.FORMAT, "backup_id": result.backup_id, "created_at": now.isoformat(),
            "host": socket.gethostname(), "env": common.env, "services": service_info,
            "files": {m: {"path": rel, "sha256": members[m]["sha256"], "size": members[m]["size"]}
                      for m, rel in files.items()},
            "keys": key_members, "members": members,
        }
        result.databases, result.files = len(service_info), len(files)

        stage.name = "write"
        part = primary.partial(result.backup_id)
        written = archive.write_archive(part, keys, result.backup_id, manifest, staging, backup.segment_bytes)
        part.replace(primary.archive(result.backup_id))
        result.size, result.sha256 = written.size, written.sha256
        shutil.rmtree(staging, ignore_errors=True)
        if after_write is not None:
            after_write(primary.archive(result.backup_id))

        stage.name = "verify"
        read_back = archive.open_archive(primary.archive(result.backup_id), keys)
        if read_back["members"] != members:
            raise archive.ArchiveError("the manifest read back differs from the one written")
        if primary.checksum(result.backup_id) != written.sha256:
            raise archive.ArchiveError("the archive on the primary target is not what was written")
        result.verified = True
        rec = Record(result.backup_id, now.isoformat(), "verified", written.sha256, written.size,
                     keys.current[0], None, clock.now().isoformat())
        primary.write_record(rec)

        if secondary is not None:
            stage.name = "copy to secondary"
            secondary.put(primary.archive(result.backup_id), result.backup_id)
            if secondary.checksum(result.backup_id) != written.sha256:
                raise archive.ArchiveError("the copy on the secondary target differs from the primary")
            secondary.write_record(rec)

        stage.name = "retention"
        result.deleted = apply_retention(backup, primary, secondary, clock.now())
        result.ok = True
    except Exception as exc:
        result.stage, result.error = stage.name, f"{type(exc).__name__}: {exc}"[:500]
        if primary.archive(result.backup_id).exists() or primary.record(result.backup_id) is None:
            primary.write_record(Record(result.backup_id, now.isoformat(), "failed", result.sha256 or None,
                                        result.size or None, keys.current[0], result.error))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        primary.clean_partials()
    result.duration_s = time.monotonic() - started
    write_metrics(paths.metrics, result, primary, secondary)
    if publish:
        result.event_published = publish_event(common, result)
    if not result.ok and alert:
        run_alert(backup, result)
    return result


def apply_retention(backup: BackupSettings, primary: DirectoryTarget, secondary: Target | None,
                    now: datetime) -> dict[str, list[str]]:
    deleted: dict[str, list[str]] = {}
    plans = [(primary, backup.keep_daily, timedelta(days=backup.primary_max_age_days))]
    if secondary is not None:
        plans.append((secondary, None, timedelta(days=backup.secondary_max_age_days)))  # type: ignore[arg-type]
    for target, keep, max_age in plans:
        doomed = retention.to_delete([r.info() for r in target.records()], now, keep, max_age)
        for backup_id in doomed:
            target.delete(backup_id)
        deleted[target.name] = doomed
    return deleted


# --- outcome: event, metrics, alert ------------------------------------------------------

def event_for(result: RunResult) -> EventEnvelope:
    finished = result.created_at + timedelta(seconds=result.duration_s)
    data: dict[str, Any] = {"started_at": result.created_at.isoformat(), "finished_at": finished.isoformat(),
                            "duration_seconds": round(result.duration_s, 3)}
    if result.ok:
        data |= {"size_bytes": result.size, "archive_sha256": result.sha256, "databases": result.databases,
                 "files": result.files, "verified": True,
                 "deleted_generations": sum(len(v) for v in result.deleted.values())}
        return EventEnvelope(type=COMPLETED, tenant_id=None, actor=ACTOR, subject={"backup_id": result.backup_id},
                             data=data, trace_id=None)
    data |= {"stage": result.stage, "error": result.error}
    return EventEnvelope(type=FAILED, tenant_id=None, actor=ACTOR, subject={"backup_id": result.backup_id},
                         data=data, trace_id=None)


def publish_event(common: CommonSettings, result: RunResult) -> bool:
    """Straight to JetStream (ops has no outbox): best effort, a few seconds at most."""
    from shared.nats_auth import OPS
    from shared.nats_client import connect, ensure_stream

    event = event_for(result)

    async def go() -> None:
        nc = await connect(common.nats_access(OPS), "ops-backup", max_reconnect_attempts=0, allow_reconnect=False)
        try:
            js = nc.jetstream()
            await ensure_stream(js, common.nats_stream, update=True, replicas=common.nats_stream_replicas)
            await js.publish(event.type, event.to_json(), stream=common.nats_stream,
                             headers={"Nats-Msg-Id": event.id}, timeout=3.0)
        finally:
            await nc.close()

    try:
        asyncio.run(asyncio.wait_for(go(), 10))
        return True
    except Exception as exc:
        print(f"[roumu] WARNING: backup event not published ({type(exc).__name__}: {exc})", file=sys.stderr)
        return False


def metrics_text(result: RunResult, primary: DirectoryTarget, secondary: Target | None) -> str:
    good = [r for r in primary.records() if r.status == "verified"]
    last_good = max((r.created for r in good), default=None)
    lines = [
        "# HELP roumu_backup_last_run_timestamp_seconds Start of the last backup run.",
        "# TYPE roumu_backup_last_run_timestamp_seconds gauge",
        f"roumu_backup_last_run_timestamp_seconds {result.created_at.timestamp():.3f}",
        "# HELP roumu_backup_last_run_success 1 when the last run was written, verified and copied.",
        "# TYPE roumu_backup_last_run_success gauge",
        f"roumu_backup_last_run_success {int(result.ok)}",
        "# HELP roumu_backup_last_verification_ok 1 when the last archive decrypted with every checksum right.",
        "# TYPE roumu_backup_last_verification_ok gauge",
        f"roumu_backup_last_verification_ok {int(result.verified)}",
        "# HELP roumu_backup_last_success_timestamp_seconds Creation time of the newest verified generation.",
        "# TYPE roumu_backup_last_success_timestamp_seconds gauge",
        f"roumu_backup_last_success_timestamp_seconds {last_good.timestamp() if last_good else 0:.3f}",
        "# HELP roumu_backup_last_duration_seconds Duration of the last run.",
        "# TYPE roumu_backup_last_duration_seconds gauge",
        f"roumu_backup_last_duration_seconds {result.duration_s:.3f}",
        "# HELP roumu_backup_last_size_bytes Size of the last encrypted archive.",
        "# TYPE roumu_backup_last_size_bytes gauge",
        f"roumu_backup_last_size_bytes {result.size}",
        "# HELP roumu_backup_generations Verified generations per target.",
        "# TYPE roumu_backup_generations gauge",
        f'roumu_backup_generations{{target="primary"}} {len(good)}',
    ]
    if secondary is not None:
        try:
            n = len([r for r in secondary.records() if r.status == "verified"])
        except (OSError, S3Error):
            n = -1  # unreachable (the run's own error says why): never a reassuring count
        lines.append(f'roumu_backup_generations{{target="secondary"}} {n}')
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, result: RunResult, primary: DirectoryTarget, secondary: Target | None) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(metrics_text(result, primary, secondary))
        tmp.replace(path)
    except OSError as exc:
        print(f"[roumu] WARNING: backup metrics not written to {path}: {exc}", file=sys.stderr)


def run_alert(backup: BackupSettings, result: RunResult) -> None:
    payload = {"backup_id": result.backup_id, "status": "failed", "stage": result.stage, "error": result.error,
               "at": result.created_at.isoformat()}
    print(f"[roumu] ERROR: backup {result.backup_id} failed at {result.stage}: {result.error}", file=sys.stderr)
    if backup.alert_command.strip():
        env = dict(os.environ) | {"BACKUP_ID": result.backup_id, "BACKUP_STATUS": "failed",
                                  "BACKUP_STAGE": result.stage, "BACKUP_ERROR": result.error}
        try:
            subprocess.run(shlex.split(backup.alert_command), env=env, input=json.dumps(payload),  # noqa: S603
                           text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"[roumu] WARNING: alert command failed: {exc}", file=sys.stderr)
    if backup.alert_webhook.strip():
        try:
            httpx.post(backup.alert_webhook, json=payload, timeout=10.0)
        except httpx.HTTPError as exc:
            print(f"[roumu] WARNING: alert webhook failed: {exc}", file=sys.stderr)


def verify_generation(target: Target, backup_id: str, keys: BackupKeys, clock: Clock = SYSTEM_CLOCK,
                      full: bool = True) -> str | None:
    """Re-check a stored generation (all of it when `full`, else its checksum); a corrupt one is
    marked failed so retention stops counting it. Returns the problem, or None."""
    rec = target.record(backup_id)
    if rec is None:
        return "no record"
    problem: str | None = None
    try:
        if rec.sha256 and target.checksum(backup_id) != rec.sha256:
            raise archive.ArchiveError("the archive's checksum differs from its record")
        if full:
            archive.open_archive(target.local_archive(backup_id), keys)
    except (archive.ArchiveError, OSError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem and rec.status == "verified":
        rec.status, rec.error = "failed", problem[:500]
        target.write_record(rec)
    elif not problem:
        rec.verified_at = clock.now().isoformat()
        target.write_record(rec)
    return problem
