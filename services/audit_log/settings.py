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
    # Events applied in one transaction by the consumer of roumu.> (one JetStream fetch). At most
    # the stream consumer's max_ack_pending (1,000, the server's default).
    consumer_batch: int = Field(default=1000, ge=1, le=1000)
    # Rows a CSV export reads per query while it streams.
    export_page_size: int = Field(default=1000, ge=10, le=10000)
