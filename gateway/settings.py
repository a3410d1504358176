"""Settings only the gateway reads. Environment variables are ROUMU_GATEWAY_<NAME>."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.topology import GATEWAY_PORT

_CIDR_LISTS = ("trusted_proxies", "admin_allowlist", "metrics_allowlist", "tls_client_cert_trusted")
_LISTS = (*_CIDR_LISTS, "admin_paths", "login_paths", "token_paths", "tenant_code_paths", "refresh_paths",
          "credential_paths",
          "upload_paths",
          "json_content_types", "upload_content_types", "form_content_paths")

CidrList = Annotated[list[str], NoDecode]
StrList = Annotated[list[str], NoDecode]


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_GATEWAY_", extra="ignore")

    port: int = GATEWAY_PORT
    # Worker processes of `python -m gateway` (uvicorn's supervisor). More than one: in-memory rate
    # counters are per process, so set REDIS_URL for exact limits.
    workers: int = 1
    # Peers whose X-Forwarded-For / -Proto / -Host are believed (a load balancer in front).
    # Empty: nobody's, so the TCP peer is the client. Comma-separated CIDRs in the environment.
    trusted_proxies: CidrList = Field(default_factory=list)
    connect_timeout: float = 2.0
    # Per read from the upstream, not for the whole response: a long download keeps flowing.
    read_timeout: float = 30.0
    write_timeout: float = 30.0
    # Waiting for a free pooled connection; past it the gateway is saturated (503).
    pool_timeout: float = 5.0
    max_connections: int = 200
    # Upstream connections one service may hold (within MAX_CONNECTIONS): a slow service cannot take all.
    max_connections_per_service: int = 100
    # Requests in flight at once (per process): per tenant (operators: per operator), and per client
    # address for requests without a token. Over it: 429 at once, nothing read or forwarded.
    concurrency_tenant: int = 100
    concurrency_anonymous: int = 20
    max_keepalive_connections: int = 100
    # Below the services' own keep-alive timeout (uvicorn's default is 5 s): a pooled connection the
    # service has just closed would otherwise fail the next request with a 502.
    keepalive_expiry: float = 4.0
    health_timeout: float = 1.0
    # A service listed as several URLs (ROUMU_<SERVICE>_URL=http://a,http://b): each replica's /readyz
    # is asked this often; one that is not ready, or refuses a connection, gets no requests for
    # EJECT_SECONDS (or until it is ready again).
    health_interval: float = 1.0
    eject_seconds: float = 5.0
    # Sum of header names and values; beyond it the request is refused before any upstream sees it.
    max_header_bytes: int = 32 * 1024

    # --- token check ---------------------------------------------------------------------------
    # "file": keys_dir/jwks.json; "http": auth's /.well-known/jwks.json (JWKS_URL or auth's URL).
    jwks_source: Literal["file", "http"] = "file"
    jwks_url: str = ""
    jwks_cache_seconds: float = 300.0
    # An unknown kid refreshes the keys at most this often (a stream of made-up kids costs nothing).
    jwks_min_refresh_seconds: float = 10.0

    # --- rate limits (the `limits` library's notation: "600/minute", "10/minute;100/hour") ---------
    # Empty: in-memory counters, per process. "redis://host:6379/0": shared by every replica and worker.
    redis_url: str = ""
    redis_key_prefix: str = "roumu-gw"
    rate_limit_strategy: Literal["fixed-window", "moving-window", "sliding-window-counter"] = "fixed-window"
    rate_limit_ip: str = "1200/minute"
    rate_limit_user: str = "600/minute"
    rate_limit_partner: str = "1200/minute"
    rate_limit_tenant: str = "6000/minute"
    # Login and password routes, per client address (and per tenant code where known): every auth
    # route that checks a secret (tests/auth/test_credential_routes.py finds them from auth's API).
    rate_limit_login: str = "10/minute;50/hour"
    login_paths: StrList = Field(default_factory=lambda: [
        "/api/v1/auth/login", "/api/v1/auth/login/totp", "/api/v1/auth/login/password",
        "/api/v1/auth/login/totp-enrolment/confirm", "/api/v1/auth/token/refresh",
        "/api/v1/auth/me/password", "/api/v1/auth/me/totp/enrolment/confirm", "/api/v1/auth/operators/login",
    ])
    # The OAuth token endpoint, per client_id (the HTTP Basic user, else the form's client_id), not
    # per address: one partner serving many offices from one address renews each client's tokens.
    # Wrong secrets are throttled per source address by auth itself (its failed-login throttle).
    rate_limit_token: str = "60/minute;1000/hour"  # noqa: S105 - a rate limit
    token_paths: StrList = Field(default_factory=lambda: ["/api/v1/auth/oauth/token"])

    # --- IP allowlists ---------------------------------------------------------------------------
    # Operator tokens and the paths below (prefixes) only from these CIDRs; empty: no restriction.
    admin_allowlist: CidrList = Field(default_factory=list)
    # The operators' sign-in is administrative: ADMIN_ALLOWLIST holds there too (auth checks its own
    # ROUMU_AUTH_OPERATOR_ALLOWLIST behind it).
    admin_paths: StrList = Field(default_factory=lambda: ["/metrics", "/api/v1/auth/operators"])
    # /metrics only from these CIDRs, whatever ADMIN_ALLOWLIST says (both apply when both are set).
    # Loopback by default; open it to the monitoring network explicitly. Empty: nobody.
    metrics_allowlist: CidrList = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    # Requests that carry the tenant code in their JSON body (`tenant_code`) before any token exists.
    tenant_code_paths: StrList = Field(default_factory=lambda: ["/api/v1/auth/login"])
    # Token refresh: the opaque refresh token travels with `tenant_code` (required), whose allowlist is
    # checked; the field is removed before auth sees the body.
    refresh_paths: StrList = Field(default_factory=lambda: ["/api/v1/auth/token/refresh"])
    # Credential routes (exact paths): bodies capped at CREDENTIAL_BODY_BYTES and always read whole,
    # so the tenant is known before a token is issued; a login `challenge` names it by its `tid`.
    credential_paths: StrList = Field(default_factory=lambda: [
        "/api/v1/auth/login", "/api/v1/auth/login/totp", "/api/v1/auth/login/password",
        "/api/v1/auth/login/totp-enrolment", "/api/v1/auth/login/totp-enrolment/confirm",
        "/api/v1/auth/token/refresh", "/api/v1/auth/oauth/token", "/api/v1/auth/me/password",
    ])
    credential_body_bytes: int = 8 * 1024
    tenant_cache_seconds: float = 10.0
    # When accounts cannot be asked, a cached answer this old is still used; none at all: 503.
    tenant_stale_seconds: float = 300.0

    # --- request limits ---------------------------------------------------------------------------
    max_body_bytes: int = 1024 * 1024
    # Files, and the CSV imports that staff send as files (text/csv, up to the upload size).
    # The office certificate (PKCS#12, multipart) of e-filing too; the service caps it at 64 KB.
    upload_paths: StrList = Field(default_factory=lambda: ["/api/v1/files/",
                                                           "/api/v1/koyo-hoken/insured-persons/import",
                                                           "/api/v1/koyo-hoken/wage-records/import",
                                                           "/api/v1/jimukumiai/wages/import",
                                                           "/api/v1/efiling/certificates"])
    max_upload_bytes: int = 100 * 1024 * 1024
    multipart_overhead_bytes: int = 64 * 1024
    json_content_types: StrList = Field(default_factory=lambda: ["application/json"])
    upload_content_types: StrList = Field(default_factory=lambda: ["multipart/form-data",
                                                                   "application/octet-stream", "text/csv"])
    # Paths (prefixes) where application/x-www-form-urlencoded is accepted (OAuth2 token endpoint).
    form_content_paths: StrList = Field(default_factory=lambda: ["/api/v1/auth/oauth/token"])
    # Bodies up to this size are read whole and sent upstream in one write; larger ones stream.
    buffer_body_bytes: int = 64 * 1024
    # Slow clients: the whole header block, and each body read, must arrive within these.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    # A body read whole at the gateway (small ones, credential routes, every anonymous one) must be
    # complete within BODY_DEADLINE; a streamed one (an authenticated upload) within STREAM_BODY_DEADLINE.
    body_deadline: float = 60.0
    stream_body_deadline: float = 1800.0
    # After BODY_RATE_GRACE seconds a body must keep coming at BODY_MIN_RATE bytes/s on average (408).
    body_min_rate: int = 8192
    body_rate_grace: float = 5.0
    # A request without a token never streams: its body is read whole before any service is asked,
    # up to this size (413 beyond), so a slow anonymous body holds no upstream connection.
    anonymous_body_bytes: int = 1024 * 1024
    keepalive_timeout: float = 5.0

    # --- browser --------------------------------------------------------------------------------
    # The SPA's origin (e.g. https://app.roumu.example); empty: no CORS at all.
    cors_origin: str = ""
    # HSTS is sent on HTTPS responses (TLS here, or X-Forwarded-Proto https from a trusted proxy).
    hsts_seconds: int = 31536000
    # The built staff console served at "/" (web/dist, written by `make run`); empty: the repo's.
    console_dir: str = ""

    # --- TLS and client certificates --------------------------------------------------------------
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # Ask for a client certificate (optional) and check it against the tenants' device CAs.
    tls_client_certs: bool = False
    # Extra CA bundle trusted for client certificates besides the device CAs fetched from auth.
    tls_client_ca_file: Path | None = None
    device_ca_refresh_seconds: float = 60.0
    # A TLS terminator in front (nginx) forwards the verified certificate in this header, believed
    # only from these CIDRs.
    tls_client_cert_header: str = "x-ssl-client-cert"
    tls_client_cert_trusted: CidrList = Field(default_factory=list)

    # --- refusal events ---------------------------------------------------------------------------
    events_enabled: bool = True
    events_queue_size: int = 1000

    @field_validator(*_LISTS, mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(*_CIDR_LISTS)
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # a typo must fail at start, not trust nobody silently
        return value


@lru_cache
def get_gateway_settings() -> GatewaySettings:
    return GatewaySettings()
