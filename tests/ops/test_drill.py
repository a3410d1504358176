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
