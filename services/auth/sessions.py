"""Sessions: access and refresh tokens, rotation with reuse detection, logout, listing.

An access token carries `sid`, the session id. Other services verify access tokens offline; to
honour a logout before the token's 15 minutes are up they keep the revoked sids they learn from
roumu.auth.session.revoked. Auth itself checks the session on `me`, refresh and its own routes."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from services.auth import events
from services.auth.context import AuthContext
from services.auth.models import AuthSession, Credential, RefreshToken, TenantRef, messaging
from services.auth.policies import tenant_settings
from services.auth.records import clip
from services.auth.repository import user_sessions
from services.auth.rules import allowlist
from services.auth.rules import sessions as rules
from shared.errors import ProblemError
from shared.events import Actor
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER

SESSION_ENDED = ProblemError(401, "session-ended", "セッションが終了しました", "もう一度ログインしてください",
                             headers={"WWW-Authenticate": 'Bearer realm="roumu", error="invalid_token"'})
AMR = {"password": ["pwd"], "password+totp": ["pwd", "otp"], "password+recovery_code": ["pwd", "otp"]}


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


def access_token(ctx: AuthContext, cred: Credential, session_id: str, method: str) -> str:
    claims = {"sub": cred.user_id, "tid": cred.tenant_id, "typ": "access", "kind": "user", "roles": cred.roles,
              "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER, "sid": session_id, "amr": AMR.get(method, ["pwd"])}
    return ctx.keys.signer.sign(claims, ctx.settings.access_ttl_seconds)


def _new_refresh(session: Session, session_id: str, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(RefreshToken(token_hash=rules.hash_token(token), session_id=session_id, issued_at=now))
    return token


def start(session: Session, ctx: AuthContext, cred: Credential, method: str, ip: str | None,
          user_agent: str | None, device_serial: str | None = None) -> Tokens:
    now = ctx.clock.now()
    s = AuthSession(id=str(uuid.uuid4()), user_id=cred.user_id, tenant_id=cred.tenant_id, method=method,
                    created_at=now, last_used_at=now, ip=ip, user_agent=clip(user_agent), device_serial=device_serial,
                    previous_login_at=cred.last_login_at, previous_login_ip=cred.last_login_ip,
                    previous_login_user_agent=cred.last_login_user_agent)
    session.add(s)
    refresh = _new_refresh(session, s.id, now)
    return Tokens(access_token(ctx, cred, s.id, method), refresh, ctx.settings.access_ttl_seconds, s.id)


@dataclass(frozen=True)
class RefreshOutcome:
    tokens: Tokens | None  # None: refused (any revocation is recorded; the caller commits, then answers 401)
    unknown: bool = False  # no such token at all: a guess, counted like a failed login
    ip_refused: bool = False  # from outside the tenant's allowlist: refused, the token not spent


def refresh(session: Session, ctx: AuthContext, token: str, ip: str | None = None,
            tenant_code: str | None = None) -> RefreshOutcome:
    """`tenant_code`: the tenant the client named (the gateway judged its allowlist by it): one that
    is not the session's own is refused like an unknown token, and the token is not spent."""
    now = ctx.clock.now()
    row = session.get(RefreshToken, rules.hash_token(token))
    s = session.get(AuthSession, row.session_id) if row else None
    if row is None or s is None:
        return RefreshOutcome(None, unknown=True)
    if tenant_code is not None:
        named = session.get(TenantRef, s.tenant_id)
        if named is None or named.code != tenant_code:
            return RefreshOutcome(None, unknown=True)
    if row.rotated_at is not None:
        # An old token again: stolen or replayed. End the whole family (the session).
        revoke(session, now, s, Actor(kind="system", id="auth"), "refresh_reuse")
        return RefreshOutcome(None)
    if not allowlist.allows(tenant_settings(session, s.tenant_id).ip_allowlist, ip):
        # The refresh token names its tenant: its allowlist holds here as at login (issue 18.4).
        return RefreshOutcome(None, ip_refused=True)
    state = rules.status(s.created_at, s.last_used_at, s.revoked_at, now, ctx.session_policy)
    cred = session.get(Credential, s.user_id)
    tenant = session.get(TenantRef, s.tenant_id)
    if state != "active" or cred is None or cred.status != "active" or (tenant and tenant.status != "active"):
        if s.revoked_at is None:
            reason = {"idle_expired": "idle_timeout", "expired": "absolute_timeout"}.get(state, "user_inactive")
            revoke(session, now, s, Actor(kind="system", id="auth"), reason)
        return RefreshOutcome(None)
    if not _spend(session, row.token_hash, now):
        # Spent meanwhile by a concurrent request presenting the same token: a replay racing
        # the owner (or a fork in the making) is reuse like any other.
        revoke(session, now, s, Actor(kind="system", id="auth"), "refresh_reuse")
        return RefreshOutcome(None)
    s.last_used_at = now
    new = _new_refresh(session, s.id, now)
    return RefreshOutcome(Tokens(access_token(ctx, cred, s.id, s.method), new, ctx.settings.access_ttl_seconds,
                                 s.id))


def _spend(session: Session, token_hash: str, now: datetime) -> bool:
    """Mark a refresh token used, only if nobody did yet: the guarded UPDATE waits for a
    concurrent rotation of the same row (PostgreSQL row lock) and then matches nothing."""
    done = session.execute(update(RefreshToken)
                           .where(RefreshToken.token_hash == token_hash, RefreshToken.rotated_at.is_(None))
                           .values(rotated_at=now))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def revoke(session: Session, now: datetime, s: AuthSession, actor: Actor, reason: str) -> bool:
    """End a session once: of concurrent revocations only one records (and publishes) it."""
    if s.revoked_at is not None:
        return False
    done = session.execute(update(AuthSession).where(AuthSession.id == s.id, AuthSession.revoked_at.is_(None))
                           .values(revoked_at=now, revoked_reason=reason))
    if not done.rowcount:  # type: ignore[attr-defined]
        session.refresh(s)
        return False
    messaging.record(session, events.session_revoked(s.tenant_id, s.user_id, s.id, actor, reason))
    return True


def revoke_all(session: Session, now: datetime, user_id: str, actor: Actor, reason: str,
               keep: str | None = None, created_before: datetime | None = None) -> int:
    """End the user's live sessions; with `created_before`, only those begun before that moment
    (a login after a change already runs under the new rights)."""
    n = 0
    for s in user_sessions(session, user_id):
        if created_before is not None and s.created_at >= created_before:
            continue
        if s.id != keep and revoke(session, now, s, actor, reason):
            n += 1
    return n


def active(session: Session, ctx: AuthContext, session_id: str, user_id: str) -> AuthSession:
    """The caller's session, or 401 when it was revoked or timed out."""
    s = session.get(AuthSession, session_id)
    if s is None or s.user_id != user_id:
        raise SESSION_ENDED
    if rules.status(s.created_at, s.last_used_at, s.revoked_at, ctx.clock.now(), ctx.session_policy) != "active":
        raise SESSION_ENDED
    return s


def active_list(session: Session, ctx: AuthContext, user_id: str) -> list[AuthSession]:
    now = ctx.clock.now()
    return [s for s in user_sessions(session, user_id)
            if rules.status(s.created_at, s.last_used_at, s.revoked_at, now, ctx.session_policy) == "active"]
