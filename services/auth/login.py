"""The login flow: password, then whatever else the user and tenant require, each step proven
by a short-lived signed challenge.

    password ─┬─ (device certificate, when the tenant requires one)
              ├─ totp              when the user has enrolled TOTP (code or recovery code)
              ├─ password_change   when an administrator reset it, or it breaks today's policy
              ├─ totp_enrolment    when the tenant requires TOTP and the user has none
              └─ authenticated     tokens, session, previous login

Unknown tenant, unknown user, wrong password, locked or disabled account and a refused device
certificate all answer the same 401 after the same one argon2 hash (no enumeration); the real
reason is only in the login history and the roumu.auth.login.failed event. Lockout counts
password and second-factor failures together and is cleared only by a complete login, so
knowing the password does not buy unlimited TOTP guesses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from services.auth import certificates, passwords_service, records, repository, totp_service
from services.auth import sessions as sessions_uc
from services.auth.context import CHALLENGE_AUDIENCE, AuthContext
from services.auth.models import Credential, TenantRef
from services.auth.policies import TenantSettings, tenant_settings
from services.auth.rules import allowlist
from services.auth.rules.lockout import after_failure, cleared
from services.auth.rules.retention import kept_since
from shared.errors import ProblemError
from shared.events import Actor
from shared.tokens import ACCESS_ISSUER, TokenError

Stage = Literal["totp", "password_change", "totp_enrolment"]
CHALLENGE_TTL_S = 300

IP_NOT_ALLOWED = ProblemError(403, "ip-not-allowed", "この接続元 IP アドレスからは利用できません",
                              "この事務所の設定で許可された接続元ではありません")
REFUSED = ProblemError(401, "login-failed", "ログインできませんでした",
                       "テナントコード、ログインID、パスワード（必要な場合は確認コードと端末証明書）を確認してください")
CHALLENGE_INVALID = ProblemError(401, "login-challenge-invalid", "ログインの有効期限が切れました",
                                 "最初からログインし直してください")


def throttled(retry_after: int) -> ProblemError:
    return ProblemError(429, "rate-limited", "ログインの試行が多すぎます。しばらくしてから再度お試しください",
                        headers={"Retry-After": str(retry_after)})


@dataclass(frozen=True)
class Client:
    ip: str | None
    user_agent: str | None
    cert: str | None = None
    gateway_token: str | None = None


@dataclass(frozen=True)
class PreviousLogin:
    at: datetime
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class Outcome:
    """One of: refused (ok False), a challenge for the next stage, or the tokens."""

    ok: bool
    stage: Stage | None = None
    ip_refused: bool = False
    challenge: str | None = None
    tokens: sessions_uc.Tokens | None = None
    previous: PreviousLogin | None = None
    retry_after: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


REFUSE = Outcome(ok=False)


def outside_allowlist(session: Session, tenant_id: str, client: Client) -> bool:
    """The tenant's allowlist, enforced here too (issue 18.4): no token is issued, no refresh
    answered, to an address outside it, whatever the gateway let through."""
    return not allowlist.allows(tenant_settings(session, tenant_id).ip_allowlist, client.ip)


def _ip_refused(session: Session, now: datetime, tenant_id: str, user_id: str | None, client: Client) -> Outcome:
    # In the history and the audit, not toward the lockout (the password is not what failed).
    records.login_failed(session, now, tenant_id, user_id, "ip_not_allowed", client.ip, client.user_agent)
    return Outcome(ok=False, ip_refused=True)


def _throttle(session: Session, ctx: AuthContext, client: Client, now: datetime) -> int | None:
    if not client.ip:
        return None
    t = ctx.throttle
    return t.retry_after(repository.source_failures_since(session, client.ip, now - t.window))


def _maybe_purge(session: Session, ctx: AuthContext, now: datetime) -> None:
    # Retention rides on logins, at most hourly per process: no scheduler to run or forget.
    last = ctx.last_purge
    if last is None or now - last >= timedelta(hours=1) or now < last:
        records.purge(session, kept_since(now, ctx.settings.retention_years))
        ctx.last_purge = now


def retry_after(session: Session, ctx: AuthContext, client: Client) -> int | None:
    """Seconds to wait when the client's address failed too often (429), recorded as throttled;
    None to go on. For every route that checks a secret, not only the login steps."""
    now = ctx.clock.now()
    retry = _throttle(session, ctx, client, now)
    if retry is not None:
        records.login_failed(session, now, None, None, "throttled", client.ip, client.user_agent, history=False)
    return retry


def count_failure(session: Session, ctx: AuthContext, cred: Credential, reason: str, client: Client) -> None:
    """A wrong secret of a known user outside the password step (the current password on a
    change): in the history and toward the lockout, exactly like a wrong login password.
    A locked or disabled account is recorded without adding to the count."""
    now = ctx.clock.now()
    blocked = _usable(session, ctx, cred, client, now)
    if blocked is not None:
        records.login_failed(session, now, cred.tenant_id, cred.user_id, blocked, client.ip, client.user_agent)
        return
    _fail(session, ctx, cred, reason, client, now, tenant_settings(session, cred.tenant_id))


def is_usable(session: Session, ctx: AuthContext, cred: Credential, client: Client) -> bool:
    return _usable(session, ctx, cred, client, ctx.clock.now()) is None


def _fail(session: Session, ctx: AuthContext, cred: Credential, reason: str, client: Client, now: datetime,
          settings: TenantSettings) -> Outcome:
    """A wrong password or second factor: counted toward the lockout."""
    outcome = after_failure(records.lock_state(cred), settings.lockout, now)
    records.set_lock_state(cred, outcome.state)
    records.login_failed(session, now, cred.tenant_id, cred.user_id, reason, client.ip, client.user_agent)
    if outcome.locked_now:
        records.locked(session, now, cred, client.ip, client.user_agent)
    return REFUSE


def _usable(session: Session, ctx: AuthContext, cred: Credential, client: Client, now: datetime) -> str | None:
    """Why this (known) account cannot log in now, or None. A lapsed lock is lifted and recorded."""
    tenant = session.get(TenantRef, cred.tenant_id)
    if tenant is None or tenant.status != "active" or cred.status != "active":
        return "disabled"
    state = records.lock_state(cred)
    if state.lapsed(now):
        records.unlocked(session, now, cred, Actor(kind="system", id="auth"), "expired")
    elif state.is_locked(now):
        return "locked"
    return None


def password_step(session: Session, ctx: AuthContext, tenant_code: str, login_id: str, password: str,
                  client: Client) -> Outcome:
    now = ctx.clock.now()
    _maybe_purge(session, ctx, now)
    retry = _throttle(session, ctx, client, now)
    if retry is not None:
        # Not in the history (it would feed the throttle itself), but published for the audit.
        records.login_failed(session, now, None, None, "throttled", client.ip, client.user_agent, history=False)
        return Outcome(ok=False, retry_after=retry)
    tenant = repository.tenant_by_code(session, tenant_code)
    cred = repository.credential(session, tenant.tenant_id, login_id, lock=True) if tenant else None
    # Exactly one argon2 verification on every path (a dummy hash when there is no user).
    ok = ctx.passwords.verify(cred.password_hash if cred else None, password)
    if tenant is not None and outside_allowlist(session, tenant.tenant_id, client):
        # The same answer for known and unknown users of the tenant (no enumeration from outside).
        return _ip_refused(session, now, tenant.tenant_id, cred.user_id if cred else None, client)
    if tenant is None or cred is None:
        records.login_failed(session, now, tenant.tenant_id if tenant else None, None,
                             "unknown_tenant" if tenant is None else "unknown_user", client.ip, client.user_agent)
        return REFUSE
    blocked = _usable(session, ctx, cred, client, now)
    if blocked is not None:
        # Failures while locked do not add to the count (Keycloak): the lock runs its course.
        records.login_failed(session, now, cred.tenant_id, cred.user_id, blocked, client.ip, client.user_agent)
        return REFUSE
    settings = tenant_settings(session, cred.tenant_id)
    if not ok:
        return _fail(session, ctx, cred, "bad_password", client, now, settings)
    assert cred.password_hash
    if ctx.passwords.needs_rehash(cred.password_hash):
        cred.password_hash = ctx.passwords.hash(password)
    if settings.device_cert_required:
        reason = certificates.check_presented(session, ctx, cred.tenant_id, client.cert, client.gateway_token)
        if reason is not None:
            # Not counted: the password was right; the device is what is missing.
            records.login_failed(session, now, cred.tenant_id, cred.user_id, reason, client.ip, client.user_agent)
            return REFUSE
    change = "forced" if cred.must_change_password else \
        "policy" if passwords_service.violations_of_current(session, cred, password) else None
    return _next(session, ctx, cred, settings, client, "password", change, totp_done=False)


def _next(session: Session, ctx: AuthContext, cred: Credential, settings: TenantSettings, client: Client,
          method: str, change: str | None, *, totp_done: bool) -> Outcome:
    if cred.totp_secret and not totp_done:
        return _challenge(ctx, cred, "totp", method, change)
    if change:
        return _challenge(ctx, cred, "password_change", method, change)
    if settings.totp_required and not cred.totp_secret:
        return _challenge(ctx, cred, "totp_enrolment", method, None)
    return complete(session, ctx, cred, method, client)


def _challenge(ctx: AuthContext, cred: Credential, stage: Stage, method: str, change: str | None) -> Outcome:
    claims: dict[str, Any] = {"sub": cred.user_id, "tid": cred.tenant_id, "typ": "login_challenge",
                              "aud": CHALLENGE_AUDIENCE, "iss": ACCESS_ISSUER, "stage": stage, "method": method,
                              # On the service's clock (tests move it): a step already taken with
                              # this challenge is recognised by comparing with `at`.
                              "at": ctx.clock.now().timestamp()}
    if change:
        claims["change"] = change
    return Outcome(ok=True, stage=stage, challenge=ctx.keys.signer.sign(claims, CHALLENGE_TTL_S))


def complete(session: Session, ctx: AuthContext, cred: Credential, method: str, client: Client) -> Outcome:
    now = ctx.clock.now()
    records.set_lock_state(cred, cleared())
    # Every step of the flow comes over the device's TLS connection: the certificate it presents
    # now is the one the session is tied to.
    serial = certificates.presented_serial(session, ctx, cred.tenant_id, client.cert, client.gateway_token)
    tokens = sessions_uc.start(session, ctx, cred, method, client.ip, client.user_agent, serial)
    previous = PreviousLogin(cred.last_login_at, cred.last_login_ip, cred.last_login_user_agent) \
        if cred.last_login_at else None
    cred.last_login_at, cred.last_login_ip = now, client.ip
    cred.last_login_user_agent = records.clip(client.user_agent)
    records.login_succeeded(session, now, cred, method, tokens.session_id, client.ip, client.user_agent)
    return Outcome(ok=True, tokens=tokens, previous=previous)


@dataclass(frozen=True)
class Challenged:
    cred: Credential
    claims: dict[str, Any]
    settings: TenantSettings


def resume(session: Session, ctx: AuthContext, challenge: str, stage: Stage, client: Client) -> Challenged | Outcome:
    """The user a challenge names, still allowed to go on; else an Outcome to answer with."""
    try:
        claims = ctx.keys.decode_own(challenge, CHALLENGE_AUDIENCE, "login_challenge")
    except TokenError as exc:
        raise CHALLENGE_INVALID from exc
    if claims.get("stage") != stage:
        raise CHALLENGE_INVALID
    now = ctx.clock.now()
    retry = _throttle(session, ctx, client, now)
    if retry is not None:
        records.login_failed(session, now, None, None, "throttled", client.ip, client.user_agent, history=False)
        return Outcome(ok=False, retry_after=retry)
    cred = session.get(Credential, str(claims["sub"]))
    if cred is None or cred.tenant_id != claims.get("tid"):
        raise CHALLENGE_INVALID
    if outside_allowlist(session, cred.tenant_id, client):
        return _ip_refused(session, now, cred.tenant_id, cred.user_id, client)
    blocked = _usable(session, ctx, cred, client, now)
    if blocked is not None:
        records.login_failed(session, now, cred.tenant_id, cred.user_id, blocked, client.ip, client.user_agent)
        return REFUSE
    return Challenged(cred, claims, tenant_settings(session, cred.tenant_id))


def totp_step(session: Session, ctx: AuthContext, challenge: str, code: str | None, recovery_code: str | None,
              client: Client) -> Outcome:
    got = resume(session, ctx, challenge, "totp", client)
    if isinstance(got, Outcome):
        return got
    cred = got.cred
    if not cred.totp_secret:
        raise CHALLENGE_INVALID  # reset by an administrator meanwhile
    reason, method = totp_service.verify(session, ctx, cred, code, recovery_code)
    if reason is not None:
        return _fail(session, ctx, cred, reason, client, ctx.clock.now(), got.settings)
    return _next(session, ctx, cred, got.settings, client, method, got.claims.get("change"), totp_done=True)


def password_change_step(session: Session, ctx: AuthContext, challenge: str, new_password: str,
                         client: Client) -> Outcome:
    got = resume(session, ctx, challenge, "password_change", client)
    if isinstance(got, Outcome):
        return got
    cred = got.cred
    # A challenge buys one exempt change, not a way around the daily limit.
    changed = cred.password_changed_at
    if (got.claims.get("change") == "forced" and not cred.must_change_password) or \
            (changed is not None and changed.timestamp() > float(got.claims.get("at", 0))):
        raise CHALLENGE_INVALID
    passwords_service.change(session, ctx, cred, new_password, Actor(kind="user", id=cred.user_id, ip=client.ip),
                             via="login", forced=True)
    return _next(session, ctx, cred, got.settings, client, str(got.claims.get("method", "password")), None,
                 totp_done=True)


def totp_enrolment_start(session: Session, ctx: AuthContext, challenge: str, client: Client) -> Challenged | Outcome:
    return resume(session, ctx, challenge, "totp_enrolment", client)


def totp_enrolment_confirm(session: Session, ctx: AuthContext, challenge: str, code: str,
                           client: Client) -> Outcome:
    got = resume(session, ctx, challenge, "totp_enrolment", client)
    if isinstance(got, Outcome):
        return got
    codes = totp_service.confirm(session, ctx, got.cred, code, Actor(kind="user", id=got.cred.user_id, ip=client.ip))
    done = complete(session, ctx, got.cred, "password+totp", client)
    return Outcome(ok=True, tokens=done.tokens, previous=done.previous, extra={"recovery_codes": codes})
