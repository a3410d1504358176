"""Signing and verifying the JWTs Roumu passes around (EdDSA).

* access tokens (typ "access" or "partner"): issued by auth, `aud` "roumu";
* service tokens (typ "service"): one service calling another, `aud` = the callee's name.

Every service verifies what it receives itself: a header from outside is never trusted."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jwt

from shared.keys import Use, load_public_keys, load_signing_keys

_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
ACCESS_AUDIENCE = "roumu"
ACCESS_ISSUER = "roumu-auth"
LEEWAY_S = 5


class TokenError(Exception):
    """The token is missing, malformed, expired, of the wrong kind or for another audience."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, as a verified token says."""

    kind: str  # "user" | "partner" | "service" | "operator"
    subject: str
    tenant_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    claims: dict[str, Any] = field(default_factory=dict, compare=False)


class TokenSigner:
    def __init__(self, keys_dir: Path, use: Use) -> None:
        keys = load_signing_keys(keys_dir, use)
        if not keys:
            raise RuntimeError(f"no {use} signing key under {keys_dir}")
        self.key = keys[-1]

    def sign(self, claims: dict[str, Any], ttl_seconds: int) -> str:
        now = int(time.time())
        body = {"iat": now, "nbf": now, "exp": now + ttl_seconds, "jti": uuid.uuid4().hex, **claims}
        return jwt.encode(body, self.key.private, algorithm="EdDSA", headers={"kid": self.key.kid})


def _unverified_header(token: str) -> Mapping[str, Any]:
    """The token's header, unverified (it only picks the key; jwt.decode then checks the whole
    token). Remembered per token string: a caller sends the same access token for many requests,
    and pyjwt's parse checks each character of every segment — read twice per request (key_use,
    then _key) beside the decode's own parse, it was the largest part of the token check (issue
    #22). A malformed token raises each time (exceptions are not cached); only tokens of a sane
    length are kept (4,096 of at most 4 KiB: the cache cannot be grown by odd headers); read-only."""
    if len(token) > _CACHED_TOKEN_CHARS:
        return MappingProxyType(jwt.get_unverified_header(token))
    return _cached_header(token)


_CACHED_TOKEN_CHARS = 4096


@lru_cache(maxsize=4096)
def _cached_header(token: str) -> Mapping[str, Any]:
    return MappingProxyType(jwt.get_unverified_header(token))


class TokenVerifier:
    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir
        self._keys = load_public_keys(keys_dir)

    def _key(self, token: str, use: Use) -> Any:
        try:
            header = _unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("malformed token") from exc
        if header.get("alg") != "EdDSA":
            raise TokenError("unexpected algorithm")
        kid = header.get("kid")
        if kid not in self._keys:
            self._keys = load_public_keys(self.keys_dir)  # a rotated key appeared
        found = self._keys.get(str(kid))
        if found is None or found[0] != use:
            raise TokenError("unknown key")
        return found[1]

    def key_use(self, token: str) -> Use:
        """Which kind of key signed the token (unverified; verify_* checks the signature)."""
        try:
            kid = str(_unverified_header(token).get("kid"))
        except jwt.PyJWTError as exc:
            raise TokenError("malformed token") from exc
        if kid not in self._keys:
            self._keys = load_public_keys(self.keys_dir)
        if kid not in self._keys:
            raise TokenError("unknown key")
        return self._keys[kid][0]

    def verify_access(self, token: str) -> Principal:
        try:
            claims = jwt.decode(token, self._key(token, "access"), algorithms=["EdDSA"],
                                audience=ACCESS_AUDIENCE, issuer=ACCESS_ISSUER, leeway=LEEWAY_S,
                                options={"require": ["exp", "iat", "sub", "typ"]})
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
        typ = claims.get("typ")
        if typ not in ("access", "partner"):
            raise TokenError("not an access token")
        tid = claims.get("tid")
        if tid is not None and not (isinstance(tid, str) and _ID.match(tid)):
            # Ids go into 36-character columns and SQL filters: refuse odd shapes up front.
            raise TokenError("malformed tenant id")
        return Principal(
            kind="partner" if typ == "partner" else str(claims.get("kind", "user")),
            subject=str(claims["sub"]),
            tenant_id=claims.get("tid"),
            roles=frozenset(claims.get("roles", [])),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            claims=claims,
        )

    def verify_service(self, token: str, audience: str) -> Principal:
        try:
            claims = jwt.decode(token, self._key(token, "internal"), algorithms=["EdDSA"],
                                audience=audience, leeway=LEEWAY_S,
                                options={"require": ["exp", "iat", "iss", "typ"]})
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
        if claims.get("typ") != "service":
            raise TokenError("not a service token")
        return Principal(kind="service", subject=str(claims["iss"]), tenant_id=claims.get("tid"),
                         claims=claims)


def service_token(signer: TokenSigner, caller: str, callee: str, tenant_id: str | None = None,
                  ttl_seconds: int = 60) -> str:
    claims: dict[str, Any] = {"iss": caller, "aud": callee, "typ": "service"}
    if tenant_id:
        claims["tid"] = tenant_id
    return signer.sign(claims, ttl_seconds)
