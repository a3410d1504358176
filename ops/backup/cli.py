"""`python -m ops.backup <command>`:

    run                     one backup now (dump, archive, verify, copy, retention, event, metrics)
    schedule                run daily at ROUMU_BACKUP_AT (JST, 23:00 or later), forever (the compose job)
    list                    the generations on both targets
    verify [ID ...] [--quick]   re-check stored generations (default: all); corrupt ones are marked failed
    drill [--backup-id ID] [--from-secondary] [--keep] [--no-stack]   the restore drill (monthly)
    rewrap                  re-wrap every archive's data key under the newest ROUMU_BACKUP_KEY
    keygen                  print a new backup key (for ROUMU_BACKUP_KEY / ROUMU_BACKUP_KEY_FILE)
    health                  exit 0 when the scheduler's heartbeat is fresh (container healthcheck)

Exit status: 0 success, 1 failure."""

from __future__ import annotations

import argparse
import base64
import secrets
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ops.backup import archive
from ops.backup.drill import drill_record_path, read_drill_record, run_drill
from ops.backup.drill_rules import drill_due
from ops.backup.job import resolve_paths, run_backup, secondary_target, verify_generation
from ops.backup.keyring import load_backup_keys
from ops.backup.schedule import next_run
from ops.backup.settings import BackupSettings, MonitorSettings
from ops.backup.targets import DirectoryTarget, Target
from shared.clock import SYSTEM_CLOCK
from shared.settings import CommonSettings

HEARTBEAT_MAX_AGE_S = 300.0


def settings() -> CommonSettings:
    from ops.devrun import resolve_settings

    return resolve_settings()


def targets(common: CommonSettings, backup: BackupSettings) -> list[Target]:
    paths = resolve_paths(common, backup)
    out: list[Target] = [DirectoryTarget("primary", paths.primary)]
    secondary = secondary_target(common, backup)
    if secondary is not None:
        out.append(secondary)
    return out


def cmd_run(common: CommonSettings, backup: BackupSettings) -> int:
    r = run_backup(common, backup)
    if r.ok:
        print(f"backup {r.backup_id}: verified, {r.size} bytes, {r.databases} databases, {r.files} files, "
              f"{r.duration_s:.1f} s; deleted {r.deleted}")
        return 0
    print(f"backup {r.backup_id}: FAILED at {r.stage}: {r.error}", file=sys.stderr)
    return 1


def heartbeat_path(common: CommonSettings, backup: BackupSettings) -> Path:
    return resolve_paths(common, backup).metrics.with_name("roumu_backup_scheduler.heartbeat")


def cmd_schedule(common: CommonSettings, backup: BackupSettings) -> int:
    beat = heartbeat_path(common, backup)
    beat.parent.mkdir(parents=True, exist_ok=True)
    while True:
        due = next_run(SYSTEM_CLOCK.now(), backup.at)
        print(f"next backup at {due.isoformat()}", flush=True)
        while (left := (due - SYSTEM_CLOCK.now()).total_seconds()) > 0:
            beat.write_text(f"{time.time():.0f} next {due.isoformat()}\n")
            time.sleep(min(left, 60.0))
        cmd_run(common, backup)
        maybe_drill(common, backup)
        time.sleep(1.0)  # past the minute boundary, so the next due time is tomorrow's


def maybe_drill(common: CommonSettings, backup: BackupSettings) -> bool:
    """The monthly restore drill, after the night's backup, when due (drill_rules.drill_due): from
    the secondary target (the copy a disaster leaves), RTO measured, alert on failure."""
    last = read_drill_record(drill_record_path(resolve_paths(common, backup).metrics))
    last_at = datetime.fromisoformat(str(last["at"])) if last else None
    if not drill_due(SYSTEM_CLOCK.now(), last_at, backup.drill_day):
        return False
    run_drill(common, backup, MonitorSettings(), from_secondary=True, start_stack=backup.drill_start_stack)
    return True


def cmd_health(common: CommonSettings, backup: BackupSettings) -> int:
    try:
        stamp = float(heartbeat_path(common, backup).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 1
    return 0 if time.time() - stamp < HEARTBEAT_MAX_AGE_S else 1


def cmd_list(common: CommonSettings, backup: BackupSettings) -> int:
    for t in targets(common, backup):
        print(f"{t.name}: {t.path}")
        for r in t.records():
            present = "" if t.has(r.backup_id) else "  (archive missing)"
            print(f"  {r.backup_id}  {r.created_at}  {r.status:<8} {r.size or 0:>12} bytes  key {r.kid}{present}"
                  + (f"  {r.error}" if r.error else ""))
    return 0


def cmd_verify(common: CommonSettings, backup: BackupSettings, ids: list[str], quick: bool) -> int:
    keys = load_backup_keys(backup, common.keys_dir)
    bad = 0
    for t in targets(common, backup):
        for r in t.records():
            if ids and r.backup_id not in ids:
                continue
            if r.status != "verified":
                continue
            problem = verify_generation(t, r.backup_id, keys, full=not quick)
            print(f"{t.name} {r.backup_id}: {'ok' if problem is None else 'FAILED: ' + problem}")
            bad += problem is not None
    return 1 if bad else 0


def cmd_rewrap(common: CommonSettings, backup: BackupSettings) -> int:
    keys = load_backup_keys(backup, common.keys_dir)
    for t in targets(common, backup):
        if not isinstance(t, DirectoryTarget):
            continue  # an object store's archives are rewrapped by the next run's copy, not in place
        for r in t.records():
            path = t.archive(r.backup_id)
            if not path.exists() or r.status != "verified":
                continue
            if archive.rewrap(path, keys):
                r.kid, r.sha256 = keys.current[0], archive.sha256_file(path)
                t.write_record(r)
                print(f"{t.name} {r.backup_id}: re-wrapped under {keys.current[0]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.backup", description="Roumu backups",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run")
    sub.add_parser("schedule")
    sub.add_parser("list")
    v = sub.add_parser("verify")
    v.add_argument("ids", nargs="*")
    v.add_argument("--quick", action="store_true", help="checksum of the encrypted file only")
    d = sub.add_parser("drill")
    d.add_argument("--backup-id")
    d.add_argument("--from-secondary", action="store_true")
    d.add_argument("--keep", action="store_true", help="keep the scratch databases and folder")
    d.add_argument("--no-stack", action="store_true", help="restore and check only; do not start the services")
    d.add_argument("--scratch-dir", type=Path)
    sub.add_parser("rewrap")
    sub.add_parser("keygen")
    sub.add_parser("health")
    args = parser.parse_args(argv)

    if args.command == "keygen":
        print(f"bk-{datetime.now():%Y%m%d}-{secrets.token_hex(2)}:{base64.b64encode(secrets.token_bytes(32)).decode()}")
        return 0
    common, backup = settings(), BackupSettings()
    if args.command == "run":
        return cmd_run(common, backup)
    if args.command == "schedule":
        return cmd_schedule(common, backup)
    if args.command == "health":
        return cmd_health(common, backup)
    if args.command == "list":
        return cmd_list(common, backup)
    if args.command == "verify":
        return cmd_verify(common, backup, args.ids, args.quick)
    if args.command == "rewrap":
        return cmd_rewrap(common, backup)
    report = run_drill(common, backup, MonitorSettings(), backup_id=args.backup_id,
                       from_secondary=args.from_secondary, keep=args.keep, start_stack=not args.no_stack,
                       scratch_dir=args.scratch_dir)
    return 0 if report.ok else 1
