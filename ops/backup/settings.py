"""Settings of the backup job, the restore drill and the monitor (environment variables, all
documented in docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackupSettings(BaseSettings):
    """ROUMU_BACKUP_*: where archives go, how long they stay, the key, the schedule, the alert hook."""

    model_config = SettingsConfigDict(env_prefix="ROUMU_BACKUP_", extra="ignore")

    # The key: `ROUMU_BACKUP_KEY` (base64 of 32 bytes, or `kid:base64,kid2:base64`, newest first)
    # or `ROUMU_BACKUP_KEY_FILE` (the same text in a file outside the repository). Neither: a dev
    # key generated in <keys_dir>/backup-key, with a warning.
    key: str = ""
    key_file: Path | None = None
    primary_dir: Path | None = None  # default <var_dir>/backups/primary
    secondary_dir: Path | None = None  # default <var_dir>/backups/secondary
    file_store_dir: Path | None = None  # default <var_dir>/files
    work_dir: Path | None = None  # plaintext staging (mode 0700), default <primary_dir>/.work
    metrics_file: Path | None = None  # default <var_dir>/metrics/roumu_backup.prom
    keep_daily: int = 7
    secondary_max_age_days: int = 35
    primary_max_age_days: int = 35
    at: str = "23:30"  # JST, 23:00 or later
    alert_command: str = ""
    alert_webhook: str = ""
    segment_bytes: int = 1024 * 1024
    # The restore drill: PostgreSQL scratch databases are `<prefix>_<random>_<service>`.
    drill_database_prefix: str = "roumu_drill"
    drill_postgres_url: str = ""  # a server to restore into; default the live databases' server
    # The monthly drill (`ops.backup schedule` runs it after the daily backup from this day of the
    # month, JST): it fails, and alerts, when the measured RTO exceeds the limit (the sheet: 4 h).
    drill_day: int = 1
    drill_rto_limit_seconds: float = 4 * 3600.0
    drill_start_stack: bool = True
    # The secondary target on an S3-compatible store instead of SECONDARY_DIR (issue 24.3): set the
    # endpoint and bucket. OBJECT_LOCK_DAYS: COMPLIANCE retention of each archive (0: none; the
    # bucket must have object lock enabled otherwise the store refuses the upload).
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = "roumu-backups/"
    s3_object_lock_days: int = 35

    @field_validator("at")
    @classmethod
    def _late_enough(cls, v: str) -> str:
        from ops.backup.schedule import parse_time

        parse_time(v)
        return v


class MonitorSettings(BaseSettings):
    """ROUMU_MONITOR_*: the monitoring account, what to reach and the thresholds."""

    model_config = SettingsConfigDict(env_prefix="ROUMU_MONITOR_", extra="ignore")

    gateway_url: str = ""  # default http://127.0.0.1:<ROUMU_GATEWAY_PORT or 8000>
    tenant: str = "demo"
    login: str = "monitor"
    password: str = ""
    timeout_seconds: float = 5.0
    disk_paths: str = ""  # comma list; default the var dir
    disk_warn_ratio: float = 0.80
    disk_critical_ratio: float = 0.90
    stream_warn_ratio: float = 0.80
    stream_critical_ratio: float = 0.90
    database_warn_bytes: int = 50 * 1024**3
    backup_max_age_hours: float = 26.0
    # The last restore drill older than this is overdue (monthly, with slack).
    drill_max_age_days: float = 35.0
    interval_seconds: float = 60.0
