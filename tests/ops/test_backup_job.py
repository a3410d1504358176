"""The backup job on real databases (SQLite, or PostgreSQL with ROUMU_TEST_POSTGRES_URL), a real
file store and the session's nats-server; time from a FrozenClock."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ops.backup import sources
from ops.backup.archive import open_archive
from ops.backup.job import COMPLETED, FAILED, resolve_paths, run_backup, verify_generation
from ops.backup.targets import DirectoryTarget
from shared.clock import JST, FrozenClock
from shared.nats_auth import ADMIN
from shared.nats_client import NatsAccess, connect
from tests.ops.conftest import MY_NUMBER, Installation

DAY = timedelta(days=1)


def targets(inst: Installation) -> tuple[DirectoryTarget, DirectoryTarget]:
    p = resolve_paths(inst.common, inst.backup)
    assert p.secondary
    return DirectoryTarget("primary", p.primary), DirectoryTarget("secondary", p.secondary)


async def last_event(access: NatsAccess, stream: str, subject: str) -> dict:
    nc = await connect(access, "tests-backup", max_reconnect_attempts=0)
    try:
        msg = await nc.jetstream().get_last_msg(stream, subject)
        return json.loads(msg.data)
    finally:
        await nc.close()


def test_eight_daily_runs_leave_seven_generations_and_a_corrupt_one_rotates_nothing_out(installation, tmp_path):
    inst = installation
    clock = FrozenClock(datetime(2026, 6, 1, 23, 30, tzinfo=JST))
    ids = []
    for _ in range(8):
        r = run_backup(inst.common, inst.backup, clock=clock, keys=inst.keys)
        assert r.ok, (r.stage, r.error)
        assert r.event_published
        ids.append(r.backup_id)
        clock.advance(DAY)
    primary, secondary = targets(inst)
    kept = [g.backup_id for g in primary.records()]
    assert kept == ids[1:], "seven daily generations on the primary, the oldest rotated out"
    assert all(primary.archive(i).exists() for i in kept) and not primary.archive(ids[0]).exists()
    assert [g.backup_id for g in secondary.records()] == ids  # 8 days < 35: all kept there
    assert all(g.status == "verified" for g in primary.records())
    event = asyncio.run(last_event(inst.common.nats_access(ADMIN), inst.common.nats_stream, COMPLETED))
    assert event["subject"] == {"backup_id": ids[-1]} and event["data"]["verified"] is True

    # Run nine: the archive is damaged after writing. Verification catches it; nothing is deleted.
    alert_log = tmp_path / "alert.json"
    script = f"import sys,pathlib; pathlib.Path(r'{alert_log}').write_text(sys.stdin.read())"
    inst.backup.alert_command = f'{sys.executable} -c "{script}"'

    def corrupt(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))

    bad = run_backup(inst.common, inst.backup, clock=clock, keys=inst.keys, after_write=corrupt)
    assert not bad.ok and bad.stage == "verify" and "decrypt" in bad.error
    records = {g.backup_id: g for g in primary.records()}
    assert records[bad.backup_id].status == "failed"
    assert [i for i, g in records.items() if g.status == "verified"] == ids[1:], "the last good ones all stay"
    assert not secondary.archive(bad.backup_id).exists(), "a failed archive is not copied"
    alert = json.loads(alert_log.read_text())
    assert alert["backup_id"] == bad.backup_id and alert["stage"] == "verify"
    failed = asyncio.run(last_event(inst.common.nats_access(ADMIN), inst.common.nats_stream, FAILED))
    assert failed["subject"] == {"backup_id": bad.backup_id} and failed["data"]["stage"] == "verify"
    metrics = resolve_paths(inst.common, inst.backup).metrics.read_text()
    assert "roumu_backup_last_run_success 0" in metrics
    assert "roumu_backup_last_verification_ok 0" in metrics
    assert 'roumu_backup_generations{target="primary"} 7' in metrics

    # The next good run: the failed generation goes, seven good ones remain.
    clock.advance(DAY)
    good = run_backup(inst.common, inst.backup, clock=clock, keys=inst.keys)
    assert good.ok
    remaining = primary.records()
    assert [g.backup_id for g in remaining] == [*ids[2:], good.backup_id]
    assert "roumu_backup_last_verification_ok 1" in resolve_paths(inst.common, inst.backup).metrics.read_text()


def test_secondary_keeps_35_days(installation):
    inst = installation
    clock = FrozenClock(datetime(2026, 1, 1, 23, 0, tzinfo=JST))
    first = run_backup(inst.common, inst.backup, clock=clock, keys=inst.keys, publish=False)
    clock.advance(timedelta(days=35))
    second = run_backup(inst.common, inst.backup, clock=clock, keys=inst.keys, publish=False)
    _, secondary = targets(inst)
    assert [g.backup_id for g in secondary.records()] == [first.backup_id, second.backup_id]  # exactly 35 days
    clock.advance(timedelta(hours=1))
    third = run_backup(inst.common, inst.backup, clock=clock, keys=inst.keys, publish=False)
    assert [g.backup_id for g in secondary.records()] == [second.backup_id, third.backup_id]


def test_stored_corruption_is_found_by_verify_and_stops_counting(installation):
    inst = installation
    clock = FrozenClock(datetime(2026, 3, 1, 23, 0, tzinfo=JST))
    r = run_backup(inst.common, inst.backup, clock=clock, keys=inst.keys, publish=False)
    primary, _ = targets(inst)
    assert verify_generation(primary, r.backup_id, inst.keys) is None
    path = primary.archive(r.backup_id)
    path.write_bytes(path.read_bytes()[:-100])  # truncated on disk
    problem = verify_generation(primary, r.backup_id, inst.keys)
    assert problem and "checksum" in problem
    assert primary.record(r.backup_id).status == "failed"  # type: ignore[union-attr]


def test_the_archive_holds_no_readable_my_number_password_hash_or_file_content(installation, tmp_path):
    inst = installation
    r = run_backup(inst.common, inst.backup, keys=inst.keys, publish=False)
    assert r.ok
    primary, secondary = targets(inst)
    needles = {"my number": MY_NUMBER.encode(), "password hash": inst.password_hash.encode(),
               "argon2 digest": inst.password_hash.rsplit("$", 1)[1].encode(), "file content": inst.file_marker,
               "argon2 marker": b"$argon2id$"}
    for where in (primary.archive(r.backup_id), secondary.archive(r.backup_id)):
        blob = where.read_bytes()
        found = [name for name, needle in needles.items() if needle in blob]
        assert not found, f"{where.name} reveals {found}"
    for sidecar in primary.path.glob("*.json"):
        assert not any(n in sidecar.read_bytes() for n in needles.values())

    # The control: decrypted, the same needles are there, so the grep above could have found them.
    out = tmp_path / "decrypted"
    manifest = open_archive(primary.archive(r.backup_id), inst.keys, extract_to=out)
    plain = b"".join(_plain(out / info["member"], info["kind"]) for info in manifest["services"].values())
    assert MY_NUMBER.encode() in plain and inst.password_hash.encode() in plain
    assert inst.file_marker in (out / "files/objects/ab/abcdef.bin").read_bytes()
    assert set(manifest["files"]) == {f"files/{p}" for p in inst.files}, "tmp/ (uploads in flight) is left out"
    assert {m["path"]: m["sha256"] for m in manifest["files"].values()} == inst.files
    assert "keys/jwks.json" in manifest["keys"] and not any("backup-key" in k for k in manifest["keys"])
    assert manifest["services"].keys() == inst.urls().keys()
    assert {s: i["tables"] for s, i in manifest["services"].items()} == inst.counts()


def _plain(path: Path, kind: str) -> bytes:
    if kind == "sqlite":
        return path.read_bytes()
    return subprocess.run(["pg_restore", "-f", "-", str(path)], capture_output=True, check=True).stdout


def test_a_failing_dump_fails_the_run_and_deletes_nothing(installation):
    inst = installation
    clock = FrozenClock(datetime(2026, 4, 1, 23, 0, tzinfo=JST))
    good = run_backup(inst.common, inst.backup, clock=clock, keys=inst.keys, publish=False)
    url = inst.common.database_url("files")
    if url.startswith("sqlite"):
        sources.sqlite_path(url).unlink()
    else:
        sources.drop_database(url)
    clock.advance(DAY)
    bad = run_backup(inst.common, inst.backup, clock=clock, keys=inst.keys, publish=False, alert=False)
    assert not bad.ok and bad.stage == "dump files"
    primary, secondary = targets(inst)
    assert primary.record(good.backup_id).status == "verified"  # type: ignore[union-attr]
    assert primary.archive(good.backup_id).exists() and secondary.archive(good.backup_id).exists()
    assert primary.record(bad.backup_id).status == "failed"  # type: ignore[union-attr]
    assert not list(resolve_paths(inst.common, inst.backup).work.iterdir()), "no plaintext staging left behind"
    assert datetime.fromisoformat(primary.record(bad.backup_id).created_at) > datetime(2026, 1, 1, tzinfo=UTC)  # type: ignore[union-attr]
