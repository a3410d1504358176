"""Where archives are kept: directory targets (a local disk, an NFS or other mounted backup system).

Each generation is `<backup_id>.rbk` (the encrypted archive) and `<backup_id>.json` (its record:
when, checksum of the encrypted file, size, verified or failed). Nothing secret is in the record.
An archive is written as `.partial` and renamed once complete, so a crash never leaves a file that
looks whole. An S3-compatible store is not built in (no S3 client among the dependencies): mount
it (s3fs, rclone mount) as the secondary directory, or sync the secondary directory to it
(docs/operations.md)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.backup.archive import sha256_file
from ops.backup.retention import GenerationInfo

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
