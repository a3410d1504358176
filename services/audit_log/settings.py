"""Settings of the audit-log service only (ROUMU_AUDIT_LOG_*); documented in docs/configuration.md."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuditLogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_AUDIT_LOG_", extra="ignore")

    # A chain whose head moved since its last checkpoint gets a new signed one this often.
    checkpoint_interval_seconds: float = Field(default=3600.0, gt=0)
    # Retention purge (90 days / 1 year) runs this often.
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    # Every chain of every tenant is verified this often (the verification-status metric).
    verify_interval_seconds: float = Field(default=86400.0, gt=0)
    # Consumer lag and ingest rate are measured this often.
    metrics_interval_seconds: float = Field(default=15.0, gt=0)
    # Events of roumu.> fetched at a time, and applied in one transaction while the consumer keeps
    # up (with the fetch process, a backlog goes in transactions of up to 8 fetches). At most the
    # server's default max_ack_pending (1,000), the window when fetching in the service process.
    consumer_batch: int = Field(default=1000, ge=1, le=1000)
    # Fetch and ack in a child process (shared/fetch_process.py), so nats-py's per-message work
    # runs beside the parsing, hashing and inserting instead of sharing one interpreter with it.
    consumer_fetch_process: bool = True
    # Rows a CSV export reads per query while it streams.
    export_page_size: int = Field(default=1000, ge=10, le=10000)
