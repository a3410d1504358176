"""Where archives are kept: directory targets (a local disk, an NFS or other mounted backup system).

Each generation is `<backup_id>.rbk` (the encrypted archive) and `<backup_id>.json` (its record:
when, checksum of the encrypted file, size, verified or failed). Nothing secret is in the record.
An archive is written as `.partial` and renamed once complete, so a crash never leaves a file that
looks whole. The secondary target may instead be an S3-compatible store (S3Target, issue 24.3)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ops.backup.archive import sha256_file
from ops.backup.retention import GenerationInfo
from services.files.storage import S3Store

ARCHIVE_SUFFIX = ".rbk"
RECORD_SUFFIX = ".json"
PARTIAL_SUFFIX = ".partial"


@dataclass
class Record:
    backup_id: str
    created_at: str  # ISO 8601, UTC
    status: str  # verified | failed
    sha256: str | None = None
    size: int | None = None
    kid: str | None = None
    error: str | None = None
    verified_at: str | None = None

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    def info(self) -> GenerationInfo:
        return GenerationInfo(self.backup_id, self.created, self.status == "verified")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


class DirectoryTarget:
    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)

    def archive(self, backup_id: str) -> Path:
        return self.path / f"{backup_id}{ARCHIVE_SUFFIX}"

    def partial(self, backup_id: str) -> Path:
        return self.path / f"{backup_id}{ARCHIVE_SUFFIX}{PARTIAL_SUFFIX}"

    def records(self) -> list[Record]:
        out: list[Record] = []
        if not self.path.is_dir():
            return out
        for p in sorted(self.path.glob(f"*{RECORD_SUFFIX}")):
            try:
                data: dict[str, Any] = json.loads(p.read_text())
                out.append(Record(**data))
            except (ValueError, TypeError):
                continue
        return sorted(out, key=lambda r: r.created_at)

    def record(self, backup_id: str) -> Record | None:
        return next((r for r in self.records() if r.backup_id == backup_id), None)

    def write_record(self, rec: Record) -> None:
        self.ensure()
        _write_atomic(self.path / f"{rec.backup_id}{RECORD_SUFFIX}",
                      json.dumps(asdict(rec), indent=1, sort_keys=True).encode())

    def put(self, src: Path, backup_id: str) -> Path:
        """Copy an archive in (as .partial, fsynced, then renamed)."""
        self.ensure()
        part = self.partial(backup_id)
        with src.open("rb") as f, part.open("wb") as out:
            shutil.copyfileobj(f, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(part, 0o600)
        part.replace(self.archive(backup_id))
        return self.archive(backup_id)

    def checksum(self, backup_id: str) -> str:
        return sha256_file(self.archive(backup_id))

    def has(self, backup_id: str) -> bool:
        return self.archive(backup_id).exists()

    def local_archive(self, backup_id: str) -> Path:
        return self.archive(backup_id)

    def delete(self, backup_id: str) -> None:
        self.archive(backup_id).unlink(missing_ok=True)
        (self.path / f"{backup_id}{RECORD_SUFFIX}").unlink(missing_ok=True)

    def clean_partials(self) -> list[Path]:
        """Leftovers of an interrupted run."""
        if not self.path.is_dir():
            return []
        left = list(self.path.glob(f"*{PARTIAL_SUFFIX}")) + list(self.path.glob("*.tmp"))
        for p in left:
            p.unlink(missing_ok=True)
        return left


class S3Target:
    """The secondary target on an S3-compatible store (ROUMU_BACKUP_S3_*): `<prefix><id>.rbk` and
    `<prefix><id>.json`, through the files service's SigV4 client (services/files/storage.py).
    With OBJECT_LOCK_DAYS, every archive is written under COMPLIANCE retention for that long (the
    bucket must have object lock enabled): not even the store's own credentials can delete or
    overwrite it early. Reading an archive downloads it into `cache` (the drill restores from there)."""

    def __init__(self, store: S3Store, cache: Path, lock_days: int = 0, now: datetime | None = None) -> None:
        self.name = "secondary"
        self.store = store
        self.cache = cache
        self.lock_days = lock_days
        self.path = f"{store.endpoint}/{store.bucket}/{store.prefix}"  # for messages
        self._now = now

    def ensure(self) -> None:
        self.cache.mkdir(parents=True, exist_ok=True, mode=0o700)

    def clean_partials(self) -> list[Path]:
        return []  # an object appears whole or not at all

    def _keys(self) -> list[str]:
        # list_keys lists under "<prefix><name>/": records and archives live under "gen/".
        return list(self.store.list_keys("gen"))

    def records(self) -> list[Record]:
        out: list[Record] = []
        for key in self._keys():
            if not key.endswith(RECORD_SUFFIX):
                continue
            try:
                data: dict[str, Any] = json.loads(b"".join(self.store.chunks(key)))
                out.append(Record(**data))
            except (ValueError, TypeError):
                continue
        return sorted(out, key=lambda r: r.created_at)

    def record(self, backup_id: str) -> Record | None:
        return next((r for r in self.records() if r.backup_id == backup_id), None)

    def write_record(self, rec: Record) -> None:
        body = json.dumps(asdict(rec), indent=1, sort_keys=True).encode()
        self._put_bytes(f"gen/{rec.backup_id}{RECORD_SUFFIX}", body, lock=False)

    def _put_bytes(self, key: str, body: bytes, lock: bool) -> None:
        headers = {"content-length": str(len(body)),
                   "content-md5": base64.b64encode(hashlib.md5(body).digest()).decode()}  # noqa: S324 - S3 asks for MD5
        if lock and self.lock_days > 0:
            until = (self._now or datetime.now(UTC)) + timedelta(days=self.lock_days)
            headers["x-amz-object-lock-mode"] = "COMPLIANCE"
            headers["x-amz-object-lock-retain-until-date"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
        r = self.store._request("PUT", key, content=body, headers=headers,
                                payload=hashlib.sha256(body).hexdigest())
        self.store._check(r)

    def put(self, src: Path, backup_id: str) -> str:
        # Archives are tens of MB at most here (segments are compressed): one signed PUT with the
        # MD5 object lock asks for. The primary's file is left untouched.
        self._put_bytes(f"gen/{backup_id}{ARCHIVE_SUFFIX}", src.read_bytes(), lock=True)
        return f"gen/{backup_id}{ARCHIVE_SUFFIX}"

    def has(self, backup_id: str) -> bool:
        return f"gen/{backup_id}{ARCHIVE_SUFFIX}" in self._keys()

    def local_archive(self, backup_id: str) -> Path:
        """The archive, downloaded into the cache (fresh each time: the store is the truth)."""
        self.ensure()
        dest = self.cache / f"{backup_id}{ARCHIVE_SUFFIX}"
        part = dest.with_name(dest.name + PARTIAL_SUFFIX)
        with part.open("wb") as out:
            for chunk in self.store.chunks(f"gen/{backup_id}{ARCHIVE_SUFFIX}"):
                out.write(chunk)
        os.chmod(part, 0o600)
        part.replace(dest)
        return dest

    def checksum(self, backup_id: str) -> str:
        h = hashlib.sha256()
        for chunk in self.store.chunks(f"gen/{backup_id}{ARCHIVE_SUFFIX}"):
            h.update(chunk)
        return h.hexdigest()

    def delete(self, backup_id: str) -> None:
        # Under object lock this hides the object (a delete marker on a versioned bucket); the
        # locked version stays until its retention ends, as intended.
        self.store.delete(f"gen/{backup_id}{ARCHIVE_SUFFIX}")
        self.store.delete(f"gen/{backup_id}{RECORD_SUFFIX}")


Target = DirectoryTarget | S3Target
