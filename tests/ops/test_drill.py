"""Backup → wipe → restore drill, on the suite's engine (SQLite, or PostgreSQL with
ROUMU_TEST_POSTGRES_URL): every table's row count and every file's checksum as before the backup,
the stack started on the restored data answers a login through the gateway, the RTO is printed."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import create_engine, text

from ops.backup.drill import run_drill
from ops.backup.job import run_backup

pytestmark = pytest.mark.slow


def test_backup_wipe_restore_drill(installation, capsys):
    inst = installation
    before = inst.counts()
    assert before["accounts"]["users"] >= 3 and before["auth"]["credentials"] >= 2
    r = run_backup(inst.common, inst.backup, keys=inst.keys, publish=False)
    assert r.ok, r.error
    inst.wipe()
    assert not (inst.var / "files").exists() and not inst.common.keys_dir.exists()

    out = io.StringIO()
    report = run_drill(inst.common, inst.backup, inst.monitor, keys=inst.keys, out=out)
    printed = out.getvalue()
    print(printed)  # the drill's report, RTO included, in the test log
    assert report.ok, report.problems
    assert report.backup_id == r.backup_id
    assert report.restored_counts == before, "every table's row count as before the backup"
    assert report.restored_files == inst.files, "every file's checksum as before the backup"
    assert report.stack_started and report.login_ok
    assert report.rto_seconds is not None and report.rto_seconds > 0
    assert "RTO (measured):" in printed and f"{report.rto_seconds:.1f} s" in printed
    assert "RPO (backup age):" in printed
    assert not report.scratch or not report.scratch.exists(), "the scratch folder is removed"
    if inst.admin_url:
        engine = create_engine(inst.admin_url)
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM pg_database WHERE datname LIKE :p"),
                                {"p": f"{inst.prefix}_drill%"}).scalar_one()
        engine.dispose()
        assert left == 0, "the drill drops its scratch databases"


def test_the_drill_refuses_a_damaged_generation(installation):
    inst = installation
    r = run_backup(inst.common, inst.backup, keys=inst.keys, publish=False)
    path = inst.backup.primary_dir / f"{r.backup_id}.rbk"  # type: ignore[operator]
    data = bytearray(path.read_bytes())
    data[-50] ^= 1
    path.write_bytes(bytes(data))
    out = io.StringIO()
    report = run_drill(inst.common, inst.backup, inst.monitor, keys=inst.keys, out=out, start_stack=False)
    assert not report.ok and "ArchiveError" in report.problems[0]
    assert "drill: FAILED" in out.getvalue()


def test_the_drill_leaves_its_record_for_the_monitor_and_alerts_when_it_fails(installation, tmp_path):
    import json
    import shlex
    import sys

    from ops.backup.drill import drill_record_path
    from ops.backup.job import resolve_paths
    from ops.monitor import Monitor

    inst = installation
    alerted = tmp_path / "alert.json"
    hook = f"{sys.executable} -c " + shlex.quote(
        f"import sys, pathlib; pathlib.Path({str(alerted)!r}).write_text(sys.stdin.read())")
    backup = inst.backup.model_copy(update={"alert_command": hook})
    r = run_backup(inst.common, backup, keys=inst.keys, publish=False)
    assert r.ok, r.error
    report = run_drill(inst.common, backup, inst.monitor, keys=inst.keys, out=io.StringIO(), start_stack=False)
    assert report.ok, report.problems
    record = json.loads(drill_record_path(resolve_paths(inst.common, backup).metrics).read_text())
    assert record["ok"] is True and record["backup_id"] == r.backup_id
    check = Monitor(inst.common, inst.monitor, backup).last_drill()
    assert (check.kind, check.status) == ("drill", "ok") and r.backup_id in check.detail
    assert not alerted.exists()

    path = backup.primary_dir / f"{r.backup_id}.rbk"  # type: ignore[operator]
    data = bytearray(path.read_bytes())
    data[-50] ^= 1
    path.write_bytes(bytes(data))
    bad = run_drill(inst.common, backup, inst.monitor, keys=inst.keys, out=io.StringIO(), start_stack=False)
    assert not bad.ok
    check = Monitor(inst.common, inst.monitor, backup).last_drill()
    assert check.status == "critical" and "FAILED" in check.detail
    sent = json.loads(alerted.read_text())
    assert sent["stage"] == "restore drill" and "ArchiveError" in sent["error"]
