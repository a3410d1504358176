"""Short-lived signed download links (for the SPA's <a download> and for partners).

A link is `/api/v1/files/downloads/<token>`, the token `base64url(claims) . base64url(HMAC-SHA256)`
with claims {f: file id, t: tenant id, e: expiry (unix s), k: key id, a: who asked for it}. The
HMAC key is derived from the service data key named by `k` (shared.crypto), so every replica
verifies without shared state and a key rotation keeps links signed a moment ago valid. The link
is bound to one file of one tenant and expires in minutes (ROUMU_FILES_DOWNLOAD_LINK_SECONDS); the
file's state and the tenant are checked again when it is used."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from shared.crypto import DataKeys


class LinkError(Exception):
    """Malformed, forged, or expired."""


@dataclass(frozen=True)
class LinkClaims:
    file_id: str
    tenant_id: str
    expires: int
    actor_kind: str
    actor_id: str


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac_key(data_keys: DataKeys, kid: str) -> bytes:
    key = dict(data_keys.keys).get(kid)
    if key is None:
        raise LinkError("unknown key")
    return hmac.new(key, b"roumu-files-download-link-v1", hashlib.sha256).digest()


def sign_link(data_keys: DataKeys, claims: LinkClaims) -> str:
    kid = data_keys.keys[0][0]
    body = _b64e(json.dumps({"f": claims.file_id, "t": claims.tenant_id, "e": claims.expires, "k": kid,
                             "ak": claims.actor_kind, "a": claims.actor_id}, separators=(",", ":")).encode())
    mac = hmac.new(_mac_key(data_keys, kid), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64e(mac)}"


def verify_link(data_keys: DataKeys, token: str, now: datetime) -> LinkClaims:
    body, dot, mac = token.partition(".")
    if not dot or not body or not mac or len(token) > 1024:
        raise LinkError("malformed")
    try:
        claims = json.loads(_b64d(body))
        kid = str(claims["k"])
        expected = hmac.new(_mac_key(data_keys, kid), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64d(mac)):
            raise LinkError("bad signature")
        out = LinkClaims(str(claims["f"]), str(claims["t"]), int(claims["e"]), str(claims["ak"]), str(claims["a"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise LinkError("malformed") from exc
    if now.timestamp() >= out.expires:
        raise LinkError("expired")
    return out
