"""Settings of the files service only (ROUMU_FILES_*); documented in docs/configuration.md."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_FILE_BYTES = 100 * 1024 * 1024  # the service sheet: 100 MB per file (as the gateway counts it: MiB)


class FilesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_FILES_", extra="ignore")

    max_file_bytes: int = Field(default=MAX_FILE_BYTES, ge=1, le=MAX_FILE_BYTES)
    # Where sealed files live: a local folder (default <var_dir>/files) or an S3-compatible store.
    storage: Literal["local", "s3"] = "local"
    storage_dir: Path | None = None
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_prefix: str = "files/"
    # Local folder for uploads in flight (sealed, never plaintext); default <storage_dir>/tmp.
    tmp_dir: Path | None = None
    # clamd: "unix:/run/clamav/clamd.ctl" or "tcp:10.0.0.5:3310"; empty = no scanning.
    clamd_address: str = ""
    clamd_timeout_seconds: float = Field(default=120.0, gt=0)
    # Quarantined files (clamd was unreachable at upload) are scanned again this often.
    rescan_interval_seconds: float = Field(default=60.0, gt=0)
    # Quotas per tenant.
    quota_bytes: int = Field(default=50 * 1024**3, ge=0)
    quota_files: int = Field(default=200_000, ge=0)
    # ZIP inspection (rules/zipcheck.py).
    zip_max_members: int = Field(default=500, ge=1)
    zip_max_total_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    zip_max_ratio: float = Field(default=100.0, gt=1)
    zip_max_depth: int = Field(default=1, ge=0, le=3)
    # Signed download links.
    download_link_seconds: int = Field(default=300, ge=10, le=3600)
    # How often files past their retention date are deleted.
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
