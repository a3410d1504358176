"""Settings of the efiling service only (ROUMU_EFILING_*); documented in docs/configuration.md.

The e-Gov target is configuration: the defaults point at the sandbox `make run` starts; production
sets e-Gov's hosts (https://account.e-gov.go.jp/auth, https://api.e-gov.go.jp/shinsei/v2) and the
ソフトウェアID / APIキー issued to the vendor."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topology import BY_NAME, GATEWAY_PORT

# The defaults follow the topology's default ports; `make run` (ops/devrun.py) sets all three
# from the ports it actually uses.
_SANDBOX = f"http://127.0.0.1:{BY_NAME['egov_sandbox'].port}"


class EfilingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_EFILING_", extra="ignore")

    egov_auth_url: str = f"{_SANDBOX}/auth"
    egov_api_url: str = f"{_SANDBOX}/shinsei/v2"
    egov_client_id: str = "roumu-sandbox"
    egov_client_secret: str = "sandbox-api-key"  # noqa: S105 - the sandbox's well-known test key
    egov_redirect_uri: str = f"http://127.0.0.1:{GATEWAY_PORT}/efiling/egov-callback"
    # Send X-eGovAPI-Trial: true (試行: e-Gov runs the call without filing for real).
    egov_trial: bool = False
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    retry_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=0.5, ge=0)
    retry_cap_seconds: float = Field(default=30.0, ge=0)
    maintenance_base_seconds: float = Field(default=5.0, ge=0)
    maintenance_cap_seconds: float = Field(default=300.0, ge=0)
    # Refresh an access token this long before it expires.
    token_refresh_margin_seconds: int = Field(default=300, ge=0)
    # Reconciliation accepts arrivals from this long before the send started (clock skew).
    reconcile_skew_seconds: int = Field(default=300, ge=0)
    poll_interval_seconds: float = Field(default=60.0, ge=0)
    poll_max_interval_seconds: float = Field(default=3600.0, ge=0)
    # The tracking / reconciliation worker the app runs in its lifespan (services/efiling/worker.py).
    worker_enabled: bool = True
    worker_interval_seconds: float = Field(default=5.0, gt=0)
    # A `submitting` row older than this is a crashed send: the worker reconciles it (must exceed
    # the HTTP timeout, so a send still in flight is never looked up as lost).
    stale_send_seconds: float = Field(default=300.0, gt=0)
    # 公文書 downloads / verifications / completions in flight at once per poll.
    document_concurrency: int = Field(default=8, ge=1, le=64)
    bulk_chunk_size: int = Field(default=500, ge=1, le=9999)
    # Also ask e-Gov's /official_document/verify (the GPKI trust decision) after the local check.
    verify_remotely: bool = True
