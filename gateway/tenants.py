"""Tenant access settings (IP allowlist, device certificate requirement) asked of accounts, cached.

Contract (the endpoints come from the Accounts issue; tests serve it from a small real upstream):
`GET /api/v1/accounts/internal/tenants/{tenant_id}` and `.../internal/tenants/by-code/{code}`
with a service token (gateway → accounts) answer
`{"tenant_id", "code", "status", "ip_allowlist": [cidr, ...], "device_cert_required": bool}`.

Each answer is kept TENANT_CACHE_SECONDS, and dropped early when
`roumu.accounts.tenant.settings_changed` arrives (a core NATS subscription: invalidation only, so a
missed message costs at most one TTL). Accounts unreachable: the last answer is used for up to
TENANT_STALE_SECONDS; with none, the request is refused with 503 rather than let through unchecked."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from gateway.headers import IPAddress
from gateway.refusals import TENANT_SETTINGS_CHANGED
from shared.errors import ProblemError
from shared.tokens import TokenSigner, service_token

log = logging.getLogger("roumu.gateway")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TenantAccess:
    tenant_id: str
    code: str
    status: str
    allowlist: tuple[Network, ...]
    device_cert_required: bool

    def allows(self, ip: IPAddress | None) -> bool:
        if not self.allowlist:
            return True
        return ip is not None and any(ip in net for net in self.allowlist)


def networks(cidrs: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    out: list[Network] = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError:
            log.warning("unreadable CIDR in an allowlist ignored", extra={"cidr": str(cidr)[:64]})
    return tuple(out)


def unavailable() -> ProblemError:
    return ProblemError(503, "unavailable", "サービスが一時的に利用できません", "テナント設定を確認できません")


class ServiceTokens:
    """Service tokens from the gateway, re-signed shortly before they expire."""

    def __init__(self, signer: TokenSigner) -> None:
        self.signer = signer
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, callee: str) -> str:
        hit = self._tokens.get(callee)
        now = time.monotonic()
        if hit is None or hit[1] < now:
            token = service_token(self.signer, "gateway", callee, ttl_seconds=60)
            hit = (token, now + 45)
            self._tokens[callee] = hit
        return hit[0]


class TenantDirectory:
    def __init__(self, client: httpx.AsyncClient, accounts_url: str, tokens: ServiceTokens, ttl: float,
                 stale: float) -> None:
        self.client = client
        self.base = accounts_url.rstrip("/") + "/api/v1/accounts/internal/tenants/"
        self.tokens = tokens
        self.ttl = ttl
        self.stale = stale
        # key ("id:<tenant_id>" or "code:<code>") → (answer or None for unknown, fetched at)
        self.cache: dict[str, tuple[TenantAccess | None, float]] = {}
        self.inflight: dict[str, asyncio.Future[TenantAccess | None]] = {}

    async def by_id(self, tenant_id: str) -> TenantAccess | None:
        return await self._get("id:" + tenant_id, quote(tenant_id, safe=""))

    async def by_code(self, code: str) -> TenantAccess | None:
        return await self._get("code:" + code, "by-code/" + quote(code, safe=""))

    def invalidate(self, tenant_id: str) -> None:
        for key, (access, _) in list(self.cache.items()):
            if key == "id:" + tenant_id or (access is not None and access.tenant_id == tenant_id):
                del self.cache[key]

    async def _get(self, key: str, path: str) -> TenantAccess | None:
        hit = self.cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[1] < self.ttl:
            return hit[0]
        pending = self.inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[TenantAccess | None] = asyncio.get_running_loop().create_future()
        self.inflight[key] = fut
        try:
            answer = await self._fetch(path)
            self.cache[key] = (answer, time.monotonic())
            if answer is not None:  # one answer serves both ways of asking
                self.cache["id:" + answer.tenant_id] = self.cache["code:" + answer.code] = self.cache[key]
            fut.set_result(answer)
            return answer
        except ProblemError as exc:
            if hit is not None and now - hit[1] < self.stale:
                fut.set_result(hit[0])
                return hit[0]
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters get it through shield
            raise
        finally:
            del self.inflight[key]

    async def _fetch(self, path: str) -> TenantAccess | None:
        try:
            r = await self.client.get(self.base + path, timeout=2.0,
                                      headers={"Authorization": f"Bearer {self.tokens.get('accounts')}"})
        except httpx.HTTPError as exc:
            log.warning("tenant settings unavailable", extra={"error": type(exc).__name__})
            raise unavailable() from exc
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            log.warning("tenant settings unavailable", extra={"status": r.status_code})
            raise unavailable()
        try:
            data = r.json()
            return TenantAccess(
                tenant_id=str(data["tenant_id"]), code=str(data["code"]), status=str(data.get("status", "active")),
                allowlist=networks(list(data.get("ip_allowlist") or [])),
                device_cert_required=bool(data.get("device_cert_required", False)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise unavailable() from exc

    async def subscribe(self, nc: NATS) -> None:
        """Drop a tenant's cached settings as soon as accounts says they changed."""

        async def on_change(msg: Msg) -> None:
            try:
                event = json.loads(msg.data)
                tenant_id = event.get("tenant_id") or (event.get("subject") or {}).get("tenant_id")
            except (ValueError, AttributeError):
                return
            if tenant_id:
                self.invalidate(str(tenant_id))

        await nc.subscribe(TENANT_SETTINGS_CHANGED, cb=on_change)
