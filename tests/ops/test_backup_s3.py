"""Issue 24.3: the backup job's secondary target on an S3-compatible store (moto's S3 server as its
own process, signatures checked by moto with botocore): the archive lands there under COMPLIANCE
object lock for 35 days, its checksum is checked after the copy, and the restore drill restores
from it after the installation was wiped."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.backup.drill import run_drill
from ops.backup.job import run_backup, secondary_target
from ops.backup.targets import S3Target
from tests.files.s3server import MotoServer, moto_available

pytestmark = pytest.mark.slow
BUCKET = "roumu-backups"


@pytest.fixture(scope="module")
def moto(tmp_path_factory) -> Iterator[MotoServer]:
    if not moto_available():
        pytest.skip("moto is not installed (the dev extra brings moto[server])")
    server = MotoServer(Path(tmp_path_factory.mktemp("moto"))).start()
    # A bucket with object lock, created with the IAM user's key (signatures checked from here on).
    store = server.store()
    store.bucket = BUCKET
    r = store._request("PUT", None, headers={"x-amz-bucket-object-lock-enabled": "true"})
    store._check(r)
    yield server
    server.stop()


def with_s3(inst, moto: MotoServer, prefix: str):
    return inst.backup.model_copy(update={
        "s3_endpoint": moto.endpoint, "s3_bucket": BUCKET, "s3_access_key_id": moto.access_key,
        "s3_secret_access_key": moto.secret_key, "s3_prefix": prefix, "s3_object_lock_days": 35})


def test_a_backup_lands_in_the_s3_store_locked_and_the_drill_restores_from_it(installation, moto):
    inst = installation
    backup = with_s3(inst, moto, f"t-{datetime.now(UTC):%H%M%S%f}/")
    before = inst.counts()
    r = run_backup(inst.common, backup, keys=inst.keys, publish=False)
    assert r.ok, r.error

    target = secondary_target(inst.common, backup)
    assert isinstance(target, S3Target)
    [rec] = target.records()
    assert (rec.backup_id, rec.status, rec.sha256) == (r.backup_id, "verified", r.sha256)
    assert target.checksum(r.backup_id) == r.sha256
    head = target.store._request("HEAD", f"gen/{r.backup_id}.rbk")
    assert head.status_code == 200
    assert head.headers["x-amz-object-lock-mode"] == "COMPLIANCE"
    until = datetime.fromisoformat(head.headers["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00"))
    assert timedelta(days=34) < until - datetime.now(UTC) <= timedelta(days=35)
    # The locked version cannot be deleted before its time, even with the store's own key.
    version = head.headers.get("x-amz-version-id")
    assert version
    refused = target.store._request("DELETE", f"gen/{r.backup_id}.rbk", query={"versionId": version})
    assert refused.status_code in (400, 403), refused.text

    inst.wipe()
    (inst.backup.primary_dir).rename(inst.var / "primary-lost")  # type: ignore[union-attr]
    out = io.StringIO()
    report = run_drill(inst.common, backup, inst.monitor, keys=inst.keys, out=out, from_secondary=True,
                       start_stack=False)
    print(out.getvalue())
    assert report.ok, report.problems
    assert report.backup_id == r.backup_id and "from the secondary target" in out.getvalue()
    assert report.restored_counts == before and report.restored_files == inst.files


def test_a_wrong_secret_fails_the_run_and_says_so(installation, moto):
    inst = installation
    backup = with_s3(inst, moto, "wrong/").model_copy(update={"s3_secret_access_key": "not-the-secret"})
    r = run_backup(inst.common, backup, keys=inst.keys, publish=False, alert=False)
    assert not r.ok and r.stage == "copy to secondary" and "SignatureDoesNotMatch" in (r.error or "")
