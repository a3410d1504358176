"""Which tenant a credential request (login, its later steps, token refresh) is for, before any token exists.

These bodies are tiny and capped at CREDENTIAL_BODY_BYTES (413 beyond), so they are always read
whole here and the tenant is always known before auth issues a token: padding a login body past the
buffer used to stream it on unread, skipping the tenant's allowlist, its login limit and its
device-certificate check.

* login (`TENANT_CODE_PATHS`): `tenant_code` from the JSON body;
* the later login steps: the `tid` of the body's `challenge` (auth's signed login challenge; read
  without checking the signature here, because auth checks it and refuses a forged one anyway —
  a lie could only name a tenant auth will not accept);
* refresh (`REFRESH_PATHS`): the refresh token is opaque; a client may name its tenant with
  `tenant_code` beside it, and the gateway then refuses early from outside that tenant's allowlist.
  The body goes on as sent: auth refuses a code that is not the session's own (so naming an
  allowlist-free office gets nothing), and auth always checks the allowlist of the session's own
  tenant on refresh — the rule that holds for the console's cookie refresh, which names no tenant."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from shared.errors import ProblemError

MAX_CODE = 64


@dataclass(frozen=True)
class Claimed:
    """The tenant a credential body names: by code (login, refresh) or by id (a login challenge)."""

    code: str | None = None
    tenant_id: str | None = None


def _json_object(body: bytes | None) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _code(data: dict[str, Any] | None) -> str | None:
    code = data.get("tenant_code") if data is not None else None
    return code if isinstance(code, str) and 0 < len(code) <= MAX_CODE else None


def oauth_client_id(authorization: str | None, body: bytes | None) -> str | None:
    """The client_id of a token request: the HTTP Basic user (RFC 6749 2.3.1, form-urlencoded),
    else the form's `client_id`; unchecked (auth checks the secret), only a rate-limit key."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            user = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            user = ""
        if user:
            return unquote_plus(user)[:MAX_CODE * 4]
    if body:
        found = parse_qs(body.decode("latin-1"), max_num_fields=20).get("client_id")
        if found and found[0]:
            return found[0][:MAX_CODE * 4]
    return None


def tenant_code(body: bytes | None) -> str | None:
    return _code(_json_object(body))


def challenge_tenant(body: bytes | None) -> str | None:
    """The `tid` claim of the body's `challenge` JWT, unverified (see the module docstring)."""
    data = _json_object(body)
    token = data.get("challenge") if data is not None else None
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    tid = claims.get("tid") if isinstance(claims, dict) else None
    return tid if isinstance(tid, str) and 0 < len(tid) <= 128 else None


def unknown_tenant() -> ProblemError:
    """A refresh naming a tenant that does not exist: no session of it can either (auth's own answer)."""
    return ProblemError(401, "session-ended", "セッションが終了しました", "もう一度ログインしてください",
                        headers={"WWW-Authenticate": 'Bearer realm="roumu", error="invalid_token"'})


def refresh_code(body: bytes | None) -> str | None:
    """The tenant code a refresh names, if any (auth checks it is the session's own)."""
    return _code(_json_object(body))
