"""Settings of the accounts service (documented in docs/configuration.md)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class AccountsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_ACCOUNTS_", extra="ignore")

    # How often the contract-end scheduler looks for due steps.
    scheduler_interval_seconds: float = 60.0
    # Least time between disabling a tenant's accounts and asking every service to purge its data,
    # so the disabling events are applied everywhere first.
    purge_settle_seconds: float = 3600.0
