"""Settings of the webhooks service (ROUMU_WEBHOOKS_*); documented in docs/configuration.md."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.webhooks.rules import destinations


class WebhooksSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_WEBHOOKS_", extra="ignore")

    # Retries: the n-th failed attempt waits base × 2^(n-1), at most max, for retry_for_hours after
    # the first attempt; then the delivery has failed and the endpoint is disabled (with a notice).
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    retry_for_hours: float = Field(default=25.0, gt=0)
    # One attempt: connect + answer within this.
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # The old secret keeps signing (as a second signature) this long after a rotation, by default.
    secret_overlap_hours: float = Field(default=24.0, ge=0, le=168)
    # How often the delivery worker looks for due deliveries (it is also woken by new events).
    worker_interval_seconds: float = Field(default=1.0, gt=0)
    worker_batch_size: int = Field(default=50, ge=1, le=1000)
    worker_enabled: bool = True
    # Endpoints must be https:// unless this is set (`make run` sets it for local receivers).
    allow_http: bool = False
    # Networks a webhook may reach although they are not public (loopback, private ranges): only for a
    # developer's local receiver or a test. Empty: public addresses only (services/webhooks/rules/
    # destinations.py). Comma-separated CIDRs in the environment.
    allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        destinations.parse_networks(value)  # a wrong CIDR fails at start, not at the first delivery
        return value
