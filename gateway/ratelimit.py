"""Rate limits with the `limits` library: per client address, user, partner client and tenant, and
stricter ones for login and password routes.

Counters live in memory (per process) unless REDIS_URL is set; then every gateway replica and worker
shares them. Over a limit: 429 problem+json with `Retry-After` and the IETF draft's
`RateLimit-Policy` / `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-10):
`RateLimit-Policy: "user";q=600;w=60` and `RateLimit: "user";r=0;t=17`.

Redis unreachable: the request goes on (fail open, logged and counted), as Envoy's global limiter
does by default; an outage of the counter store must not take the whole API down."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.errors import StorageError
from prometheus_client import Counter

from gateway.refusals import Refused
from gateway.settings import GatewaySettings

log = logging.getLogger("roumu.gateway")

STORE_ERRORS = Counter("roumu_gateway_ratelimit_store_errors_total",
                       "Rate-limit checks skipped because the counter store failed")

_STRATEGIES: dict[str, type[RateLimiter]] = {
    "fixed-window": FixedWindowRateLimiter,
    "moving-window": MovingWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}


def make_storage(gw: GatewaySettings, key_prefix: str | None = None) -> Storage:
    if gw.redis_url:
        uri = gw.redis_url if gw.redis_url.startswith("async+") else "async+" + gw.redis_url
        return RedisStorage(uri, wrap_exceptions=True, implementation="redispy",
                            key_prefix=key_prefix or gw.redis_key_prefix)
    return MemoryStorage()


class Limiter:
    def __init__(self, gw: GatewaySettings, storage: Storage | None = None) -> None:
        self.storage = storage or make_storage(gw)
        self.strategy = _STRATEGIES[gw.rate_limit_strategy](self.storage)
        self.policies: dict[str, list[RateLimitItem]] = {
            "ip": parse_many(gw.rate_limit_ip) if gw.rate_limit_ip else [],
            "user": parse_many(gw.rate_limit_user) if gw.rate_limit_user else [],
            "partner": parse_many(gw.rate_limit_partner) if gw.rate_limit_partner else [],
            "tenant": parse_many(gw.rate_limit_tenant) if gw.rate_limit_tenant else [],
            "login": parse_many(gw.rate_limit_login) if gw.rate_limit_login else [],
            "token": parse_many(gw.rate_limit_token) if gw.rate_limit_token else [],
        }

    async def hit(self, policy: str, key: str) -> None:
        """Count one request against every limit of `policy` for `key`; Refused(429) when over one."""
        for item in self.policies[policy]:
            try:
                allowed = await self.strategy.hit(item, policy, key)
            except StorageError as exc:
                STORE_ERRORS.inc()
                log.warning("rate-limit store unavailable", extra={"error": type(exc.storage_error).__name__})
                return
            if not allowed:
                raise await self._refusal(item, policy, key)

    async def headers(self, policy: str, key: str) -> list[tuple[bytes, bytes]]:
        """`RateLimit-Policy` and `RateLimit` for `key` after its hit (the Partner API sends them on
        every answer, so a client can pace itself); [] when there is no limit or the store failed."""
        items = self.policies[policy]
        if not items:
            return []
        policies, states = [], []
        for i, item in enumerate(items):
            name = policy if len(items) == 1 else f"{policy}-{i + 1}"
            try:
                stats = await self.strategy.get_window_stats(item, policy, key)
            except StorageError:
                return []
            reset = max(0, math.ceil(stats.reset_time - time.time()))
            policies.append(f'"{name}";q={item.amount};w={item.get_expiry()}')
            states.append(f'"{name}";r={max(0, stats.remaining)};t={reset}')
        return [(b"ratelimit-policy", ", ".join(policies).encode()), (b"ratelimit", ", ".join(states).encode())]

    async def _refusal(self, item: RateLimitItem, policy: str, key: str) -> Refused:
        window = item.get_expiry()
        try:
            stats = await self.strategy.get_window_stats(item, policy, key)
            wait = max(1, math.ceil(stats.reset_time - time.time()))
        except StorageError:
            wait = window
        return Refused(
            429, "rate-limited", "リクエストが多すぎます。しばらくしてから再度お試しください",
            f"{wait} 秒後に再度お試しください", reason="rate_limited",
            headers={
                "Retry-After": str(wait),
                "RateLimit-Policy": f'"{policy}";q={item.amount};w={window}',
                "RateLimit": f'"{policy}";r=0;t={wait}',
            },
        )

    async def reset(self) -> None:
        await self.storage.reset()
