"""Settings of the accounts service (documented in docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AccountsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_ACCOUNTS_", extra="ignore")

    # How often the contract-end scheduler looks for due steps.
    scheduler_interval_seconds: float = 60.0
    # Least time between disabling a tenant's accounts and asking every service to purge its data,
    # so the disabling events are applied everywhere first.
    purge_settle_seconds: float = 3600.0

    # --- mail (notices to users, issue 24.2) ----------------------------------------------------
    # No host: mails are queued in the delivery log and not sent (the worker waits for a host).
    mail_smtp_host: str | None = None
    mail_smtp_port: int = Field(default=587, ge=1, le=65535)
    # STARTTLS before anything else (the server must offer it); off only for a local catcher.
    mail_smtp_starttls: bool = True
    # A CA bundle to verify the server's certificate with (default: the system's).
    mail_smtp_ca_file: str | None = None
    mail_smtp_username: str | None = None
    mail_smtp_password: SecretStr | None = None
    mail_smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_from: str = "Roumu <no-reply@roumu.invalid>"
    # Links in mails point here (the console's address as users reach it).
    mail_base_url: str = "http://127.0.0.1:8000"
    mail_worker_interval_seconds: float = Field(default=5.0, gt=0)
    mail_max_attempts: int = Field(default=8, ge=1)
    mail_retry_base_seconds: float = Field(default=60.0, ge=0)
    mail_retry_cap_seconds: float = Field(default=3600.0, ge=0)
    # The daily deadline digest is queued from this hour, Japan time (users choose their days).
    mail_digest_hour: int = Field(default=8, ge=0, le=23)
