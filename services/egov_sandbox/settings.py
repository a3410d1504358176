"""Settings of the e-Gov sandbox only (ROUMU_EGOV_SANDBOX_*); documented in docs/configuration.md."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_EGOV_SANDBOX_", extra="ignore")

    # The software ID (client_id) and API key (client_secret) the sandbox accepts on its token,
    # introspect and logout endpoints (HTTP Basic), as e-Gov issues them to a vendor.
    client_id: str = "roumu-sandbox"
    client_secret: str = "sandbox-api-key"  # noqa: S105 - a test stand-in's well-known key
    # Token lifetimes: third-party notes say 60 s / 1 h / 180 days (unconfirmed; EGOV-API.md §1).
    code_ttl_seconds: int = Field(default=60, ge=1)
    access_ttl_seconds: int = Field(default=3600, ge=1)
    refresh_ttl_seconds: int = Field(default=15552000, ge=1)
    # e-Gov answers 413 above a limit it does not publish; the sandbox's is this.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # The account a consent is given for when /auth/auth gets no login_hint.
    default_account: str = "sandbox-user"
