"""What the files use cases need besides the database: settings, store, scanner, keys, clock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.files.rules.zipcheck import ZipLimits
from services.files.scanner import ClamdScanner, Scanner
from services.files.settings import FilesSettings
from services.files.storage import BlobStore, LocalStore, S3Store
from shared.clock import Clock
from shared.crypto import DataKeys
from shared.settings import CommonSettings


@dataclass
class FilesContext:
    settings: FilesSettings
    store: BlobStore
    tmp_dir: Path
    scanner: Scanner | None
    data_keys: DataKeys
    clock: Clock

    @property
    def zip_limits(self) -> ZipLimits:
        s = self.settings
        return ZipLimits(max_members=s.zip_max_members, max_total_uncompressed=s.zip_max_total_bytes,
                         max_ratio=s.zip_max_ratio, max_depth=s.zip_max_depth)


def build_store(common: CommonSettings, s: FilesSettings) -> tuple[BlobStore, Path]:
    root = s.storage_dir or common.var_dir / "files"
    tmp = s.tmp_dir or root / "tmp"
    if s.storage == "s3":
        if not (s.s3_endpoint and s.s3_bucket):
            raise ValueError("ROUMU_FILES_STORAGE=s3 needs ROUMU_FILES_S3_ENDPOINT and ROUMU_FILES_S3_BUCKET")
        return S3Store(s.s3_endpoint, s.s3_bucket, s.s3_access_key_id, s.s3_secret_access_key, s.s3_region,
                       s.s3_prefix), tmp
    return LocalStore(root), tmp


def build_scanner(s: FilesSettings) -> Scanner | None:
    return ClamdScanner(s.clamd_address, s.clamd_timeout_seconds) if s.clamd_address else None
