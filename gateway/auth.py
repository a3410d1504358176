"""The token check: access JWTs verified against auth's keys before a request goes anywhere.

Keys come from `keys_dir/jwks.json` (JWKS_SOURCE=file) or from auth's
`GET /api/v1/auth/.well-known/jwks.json` (JWKS_SOURCE=http), cached and refreshed when a token names
a key id not seen yet (at most every JWKS_MIN_REFRESH_SECONDS, so made-up kids cost nothing).
Only EdDSA, audience `roumu`, issuer `roumu-auth`, an expiry, and typ access/partner pass.

A verified token is remembered until it expires (a bounded map keyed by the token itself), so the
signature check costs once per token, not once per request. The token goes on to the service
unchanged, which verifies it again (`shared.auth_deps`): nothing the gateway adds is trusted."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.errors import ProblemError
from shared.keys import load_public_keys
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER, LEEWAY_S, Principal, TokenError

log = logging.getLogger("roumu.gateway")

_CACHE_MAX = 20000

UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": 'Bearer realm="roumu", error="invalid_token"'}


def invalid_token() -> ProblemError:
    return ProblemError(401, "unauthenticated", "認証が必要です", "アクセストークンが正しくないか、期限切れです",
                        headers=UNAUTHENTICATED_HEADERS)


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parse_jwks(data: Any) -> dict[str, Ed25519PublicKey]:
    """Access-token keys of a JWKS document (keys marked for internal use are skipped)."""
    out: dict[str, Ed25519PublicKey] = {}
    for jwk in data.get("keys", []) if isinstance(data, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        if jwk.get("roumu_use", "access") != "access" or jwk.get("alg", "EdDSA") != "EdDSA":
            continue
        try:
            out[str(jwk["kid"])] = Ed25519PublicKey.from_public_bytes(_b64d(str(jwk["x"])))
        except (KeyError, ValueError):
            continue
    return out


class KeySource:
    async def load(self) -> dict[str, Ed25519PublicKey]:
        raise NotImplementedError


class FileKeys(KeySource):
    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir

    async def load(self) -> dict[str, Ed25519PublicKey]:
        keys = await asyncio.to_thread(load_public_keys, self.keys_dir)
        return {kid: key for kid, (use, key) in keys.items() if use == "access"}


class HttpKeys(KeySource):
    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url

    async def load(self) -> dict[str, Ed25519PublicKey]:
        r = await self.client.get(self.url, timeout=5.0)
        r.raise_for_status()
        return parse_jwks(r.json())


class AccessVerifier:
    def __init__(self, source: KeySource, cache_seconds: float, min_refresh_seconds: float) -> None:
        self.source = source
        self.cache_seconds = cache_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self.keys: dict[str, Ed25519PublicKey] = {}
        self.loaded_at = float("-inf")
        self.verified: dict[str, tuple[Principal, float]] = {}
        self._refreshing: asyncio.Lock | None = None

    async def refresh(self, force: bool = False) -> None:
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:
            age = time.monotonic() - self.loaded_at
            if age < self.min_refresh_seconds and not (force and age > 0.5):
                return  # someone else just did
            try:
                keys = await self.source.load()
            except Exception as exc:
                # Keep what we have: auth down must not log everyone out.
                log.warning("jwks refresh failed", extra={"error": type(exc).__name__})
                self.loaded_at = time.monotonic()
                return
            if set(keys) != set(self.keys):
                self.verified.clear()  # a key withdrawn takes its tokens with it
            self.keys = keys
            self.loaded_at = time.monotonic()

    async def _key(self, kid: str) -> Ed25519PublicKey:
        if time.monotonic() - self.loaded_at > self.cache_seconds:
            await self.refresh(force=True)
        key = self.keys.get(kid)
        if key is None and time.monotonic() - self.loaded_at >= self.min_refresh_seconds:
            await self.refresh()
            key = self.keys.get(kid)
        if key is None:
            raise TokenError("unknown key")
        return key

    async def verify(self, token: str) -> Principal:
        now = time.time()
        hit = self.verified.get(token)
        if hit is not None:
            if hit[1] > now:
                return hit[0]
            del self.verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("malformed token") from exc
        if header.get("alg") != "EdDSA":
            raise TokenError("unexpected algorithm")
        key = await self._key(str(header.get("kid")))
        try:
            claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=ACCESS_AUDIENCE, issuer=ACCESS_ISSUER,
                                leeway=LEEWAY_S, options={"require": ["exp", "iat", "sub", "typ"]})
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
        typ = claims.get("typ")
        if typ not in ("access", "partner"):
            raise TokenError("not an access token")
        principal = Principal(
            kind="partner" if typ == "partner" else str(claims.get("kind", "user")),
            subject=str(claims["sub"]),
            tenant_id=str(claims["tid"]) if claims.get("tid") else None,
            roles=frozenset(claims.get("roles", [])),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            claims=claims,
        )
        if len(self.verified) >= _CACHE_MAX:
            self.verified.clear()
        self.verified[token] = (principal, float(claims["exp"]) + LEEWAY_S)
        return principal


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token of the Authorization header; None when there is none (or another scheme)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip().decode("latin-1")
            return None
    return None
