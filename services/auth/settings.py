"""Settings of the auth service only (ROUMU_AUTH_*); documented in docs/configuration.md."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_AUTH_", extra="ignore")

    # ASVS L2 wants access tokens short: 10 to 15 minutes.
    access_ttl_seconds: int = Field(default=900, ge=600, le=900)
    idle_timeout_minutes: int = Field(default=30, ge=1)
    # How long before the idle timeout the console warns (it signs out at the timeout itself).
    idle_warning_seconds: int = Field(default=120, ge=5)
    absolute_timeout_hours: int = Field(default=12, ge=1)
    source_failure_limit: int = Field(default=30, ge=1)
    source_window_minutes: int = Field(default=15, ge=1)
    # Login history and lockout records, in calendar years (rules/retention.py).
    retention_years: int = Field(default=1, ge=1)
    device_cert_days: int = Field(default=365, ge=1, le=825)
    # At most what every service remembers a revoked sid for (shared.revocation, 20 minutes).
    partner_token_ttl_seconds: int = Field(default=600, ge=60, le=900)
    totp_issuer: str = "Roumu"
    # Operators (issue 24): they sign in only from these CIDRs (the management network), whatever
    # the gateway's ADMIN_ALLOWLIST says; loopback by default, empty: nobody. Their access tokens
    # live this long and are not refreshed: a short session, then TOTP again.
    operator_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    operator_token_ttl_seconds: int = Field(default=600, ge=60, le=900)

    @field_validator("operator_allowlist", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("operator_allowlist")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # a typo must fail at start, not trust nobody silently
        return value
