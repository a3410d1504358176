"""Settings only the gateway reads. Environment variables are ROUMU_GATEWAY_<NAME>."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.topology import GATEWAY_PORT


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_GATEWAY_", extra="ignore")

    port: int = GATEWAY_PORT
    # Peers whose X-Forwarded-For / -Proto / -Host are believed (a load balancer in front).
    # Empty: nobody's, so the TCP peer is the client. Comma-separated CIDRs in the environment.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    connect_timeout: float = 2.0
    # Per read from the upstream, not for the whole response: a long download keeps flowing.
    read_timeout: float = 30.0
    write_timeout: float = 30.0
    # Waiting for a free pooled connection; past it the gateway is saturated (503).
    pool_timeout: float = 5.0
    max_connections: int = 200
    max_keepalive_connections: int = 100
    # Below the services' own keep-alive timeout (uvicorn's default is 5 s): a pooled connection the
    # service has just closed would otherwise fail the next request with a 502.
    keepalive_expiry: float = 4.0
    health_timeout: float = 1.0
    # Sum of header names and values; beyond it the request is refused before any upstream sees it.
    max_header_bytes: int = 32 * 1024

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # a typo must fail at start, not trust nobody silently
        return value


@lru_cache
def get_gateway_settings() -> GatewaySettings:
    return GatewaySettings()
