"""e-Gov accounts a tenant links (several per tenant: the office's, the association's 理事長's …).

Linking is OAuth authorization code + PKCE: `start_link` seals a verifier and returns the URL the
user's browser opens; e-Gov sends the browser back with `code` and `state`, which the SPA hands to
`finish_link`. Tokens are sealed at rest (shared.crypto, AAD bound to the account row) and
refreshed before they expire, under a row lock so two workers never both spend one refresh token."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.efiling.egov.client import EgovClient, RetryPolicy
from services.efiling.egov.oauth import Endpoints, OAuthClient, OAuthError, authorization_url, pkce_pair
from services.efiling.models import EgovAccount
from services.efiling.settings import EfilingSettings
from shared.clock import Clock
from shared.crypto import DataKeys
from shared.db import Database
from shared.errors import ProblemError, not_found


@dataclass
class Egov:
    """What talking to e-Gov needs: settings, sealing keys, one HTTP client, a clock, a sleep."""

    settings: EfilingSettings
    keys: DataKeys
    http: httpx.Client
    clock: Clock
    sleep: Callable[[float], None]

    @property
    def endpoints(self) -> Endpoints:
        s = self.settings
        return Endpoints(s.egov_auth_url.rstrip("/"), s.egov_api_url.rstrip("/"), s.egov_client_id,
                         s.egov_client_secret, s.egov_redirect_uri)

    @property
    def oauth(self) -> OAuthClient:
        return OAuthClient(self.endpoints, self.http, self.clock)

    @property
    def policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(s.retry_attempts, s.retry_base_seconds, s.retry_cap_seconds, s.maintenance_base_seconds,
                           s.maintenance_cap_seconds)

    def client(self, db: Database, account_id: str) -> EgovClient:
        return EgovClient(self.settings.egov_api_url, AccountTokens(db, self, account_id), self.http, self.policy,
                          sleep=self.sleep, trial=self.settings.egov_trial)


def _aad(account_id: str, what: str) -> bytes:
    return f"efiling.egov_account:{account_id}:{what}".encode()


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def start_link(session: Session, egov: Egov, tenant_id: str, label: str,
               login_hint: str | None = None) -> tuple[EgovAccount, str]:
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    account = EgovAccount(id=str(uuid.uuid4()), tenant_id=tenant_id, label=label, state="pending",
                          oauth_state_hash=_state_hash(state), created_at=egov.clock.now())
    account.code_verifier_sealed = egov.keys.seal(verifier.encode(), _aad(account.id, "verifier"))
    session.add(account)
    return account, authorization_url(egov.endpoints, state, challenge, login_hint)


def finish_link(session: Session, egov: Egov, tenant_id: str, code: str, state: str) -> EgovAccount:
    account = session.execute(select(EgovAccount).where(
        EgovAccount.oauth_state_hash == _state_hash(state), EgovAccount.tenant_id == tenant_id)).scalar_one_or_none()
    if account is None or account.code_verifier_sealed is None:
        raise not_found()
    verifier = egov.keys.open(account.code_verifier_sealed, _aad(account.id, "verifier")).decode()
    try:
        tokens = egov.oauth.exchange(code, verifier)
        info = egov.oauth.introspect(tokens.access_token)
    except OAuthError as exc:
        raise ProblemError(422, "egov-authorization-failed", "e-Gov の認可に失敗しました", exc.description) from exc
    _store(egov, account, tokens.access_token, tokens.refresh_token)
    account.access_expires_at, account.refresh_expires_at = tokens.access_expires_at, tokens.refresh_expires_at
    account.egov_subject = str(info.get("sub") or info.get("username") or "")
    account.state = "linked"
    account.oauth_state_hash = None
    account.code_verifier_sealed = None
    return account


def _store(egov: Egov, account: EgovAccount, access: str, refresh: str) -> None:
    account.access_token_sealed = egov.keys.seal(access.encode(), _aad(account.id, "access"))
    account.refresh_token_sealed = egov.keys.seal(refresh.encode(), _aad(account.id, "refresh"))


def unlink(session: Session, egov: Egov, account: EgovAccount) -> None:
    """Log out at e-Gov (both tokens end) and forget them."""
    if account.refresh_token_sealed:
        refresh = egov.keys.open(account.refresh_token_sealed, _aad(account.id, "refresh")).decode()
        try:
            egov.oauth.logout(refresh)
        except OAuthError:
            pass  # already dead at e-Gov: forgetting it is all that is left
    account.access_token_sealed = account.refresh_token_sealed = None
    account.access_expires_at = account.refresh_expires_at = None
    account.state = "logged_out"


class AccountTokens:
    """The client's TokenSource for one account: fresh access tokens, refreshed before expiry."""

    def __init__(self, db: Database, egov: Egov, account_id: str) -> None:
        self.db, self.egov, self.account_id = db, egov, account_id

    def access_token(self) -> str:
        margin = timedelta(seconds=self.egov.settings.token_refresh_margin_seconds)
        with self.db.sessions() as session:
            account = session.get(EgovAccount, self.account_id)
            if account is None or account.access_token_sealed is None or account.access_expires_at is None:
                raise ProblemError(409, "egov-account-not-linked", "e-Gov アカウントが連携されていません")
            if account.access_expires_at - margin > self.egov.clock.now():
                return self.egov.keys.open(account.access_token_sealed, _aad(account.id, "access")).decode()
        return self._refresh(force=False)

    def refreshed_token(self, rejected: str) -> str:
        """A token to replace `rejected` (e-Gov answered 401 to it). Single-flight per account:
        under the row lock, a token other than the rejected one means another request refreshed
        meanwhile, and that one is used. Refreshing again would revoke it under its users' feet
        (each refresh ends the previous pair), and they would refresh in turn: a herd."""
        return self._refresh(force=True, rejected=rejected)

    def _refresh(self, force: bool, rejected: str | None = None) -> str:
        margin = timedelta(seconds=self.egov.settings.token_refresh_margin_seconds)
        with self.db.transaction() as session:
            account = session.get(EgovAccount, self.account_id, with_for_update=True)
            if account is None or account.refresh_token_sealed is None:
                raise ProblemError(409, "egov-account-not-linked", "e-Gov アカウントが連携されていません")
            assert account.access_token_sealed is not None and account.access_expires_at is not None
            current = self.egov.keys.open(account.access_token_sealed, _aad(account.id, "access")).decode()
            if not force and account.access_expires_at - margin > self.egov.clock.now():
                return current  # another request refreshed while this one waited for the lock
            if force and rejected is not None and not secrets.compare_digest(current, rejected):
                return current  # the rejected token was refreshed by another request meanwhile
            refresh = self.egov.keys.open(account.refresh_token_sealed, _aad(account.id, "refresh")).decode()
            try:
                tokens = self.egov.oauth.refresh(refresh)
            except OAuthError as exc:
                account.state = "expired"
                raise ProblemError(409, "egov-account-expired", "e-Gov アカウントの再連携が必要です",
                                   exc.description) from exc
            _store(self.egov, account, tokens.access_token, tokens.refresh_token)
            account.access_expires_at, account.refresh_expires_at = tokens.access_expires_at, tokens.refresh_expires_at
            return tokens.access_token
