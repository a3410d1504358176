"""OAuth 2.0 authorization code + PKCE (S256) against e-Gov's authorisation server (EGOV-API.md §1).

Token, introspect and logout calls authenticate the software with HTTP Basic (ソフトウェアID :
APIキー). A refresh returns a new access token *and* a new refresh token; logout (204) ends both.
Whether PKCE is mandatory at e-Gov is unconfirmed; it is always used here."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from services.efiling.egov.client import USER_AGENT
from shared.clock import Clock

SCOPE = "openid offline_access"


@dataclass(frozen=True)
class Endpoints:
    auth_url: str  # e.g. https://account.e-gov.go.jp/auth
    api_url: str  # e.g. https://api.e-gov.go.jp/shinsei/v2
    client_id: str  # ソフトウェアID
    client_secret: str  # APIキー
    redirect_uri: str


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status, self.error, self.description = status, error, description


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge): a 64-character verifier (43–128 allowed), S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_url(ep: Endpoints, state: str, challenge: str, login_hint: str | None = None) -> str:
    params = {"response_type": "code", "client_id": ep.client_id, "redirect_uri": ep.redirect_uri, "scope": SCOPE,
              "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
    if login_hint:
        params["login_hint"] = login_hint
    return f"{ep.auth_url}/auth?{urlencode(params)}"


class OAuthClient:
    def __init__(self, ep: Endpoints, http: httpx.Client, clock: Clock) -> None:
        self.ep, self.http, self.clock = ep, http, clock

    def _post(self, path: str, data: dict[str, str]) -> httpx.Response:
        r = self.http.post(f"{self.ep.auth_url}{path}", data=data, auth=(self.ep.client_id, self.ep.client_secret),
                           headers={"User-Agent": USER_AGENT})
        if r.status_code >= 400:
            try:
                body: dict[str, Any] = r.json()
            except ValueError:
                body = {}
            raise OAuthError(r.status_code, str(body.get("error", "http_error")),
                             str(body.get("error_description", "")))
        return r

    def _tokens(self, body: dict[str, Any]) -> TokenSet:
        now = self.clock.now()
        return TokenSet(str(body["access_token"]), str(body["refresh_token"]),
                        now + timedelta(seconds=int(body["expires_in"])),
                        now + timedelta(seconds=int(body.get("refresh_expires_in", 0) or 0)))

    def exchange(self, code: str, verifier: str) -> TokenSet:
        r = self._post("/token", {"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": self.ep.redirect_uri, "code_verifier": verifier})
        return self._tokens(r.json())

    def refresh(self, refresh_token: str) -> TokenSet:
        r = self._post("/token", {"grant_type": "refresh_token", "refresh_token": refresh_token})
        return self._tokens(r.json())

    def introspect(self, token: str) -> dict[str, Any]:
        body: dict[str, Any] = self._post("/token/introspect", {"token": token}).json()
        return body

    def logout(self, refresh_token: str) -> None:
        self._post("/logout", {"refresh_token": refresh_token})
