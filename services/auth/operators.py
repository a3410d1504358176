"""The operators' realm (issue 24): accounts that are not users of any tenant, created from the
command line (`python -m ops.operators add`), signing in with password and TOTP in one step, only
from the operator allowlist (the management network), for a short session without refresh.

The token they get is the operator access token every operator route already accepts
(shared.auth_deps.operator_principal): `kind` "operator", no `tid`, `sub` the operator's name — so
each event an operator causes carries that name as its actor, and the audit log shows it in the
affected tenant's log ("運用者による操作").

Refusals answer one 401 for unknown name, wrong password, wrong code, disabled and locked alike
(one argon2 run on every path); the reason is only in the history and the event."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.auth import events
from services.auth.context import AuthContext
from services.auth.login import throttled
from services.auth.models import LoginEvent, Operator, messaging
from services.auth.passwords import Passwords
from services.auth.records import clip
from services.auth.repository import source_failures_since
from services.auth.rules import allowlist, blocklist, password_policy
from services.auth.rules import totp as totp_rules
from services.auth.rules.lockout import LockoutPolicy, LockState, after_failure, cleared
from shared.crypto import DataKeys
from shared.errors import ProblemError
from shared.events import Actor
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER

NAME = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
ACTIVE, DISABLED = "active", "disabled"
# Stricter than a tenant's default: an operator account reaches every tenant.
LOCKOUT = LockoutPolicy(threshold=5)
AMR = ["pwd", "otp"]

REFUSED = ProblemError(401, "login-failed", "ログインできませんでした",
                       "運用者名、パスワード、確認コードを確認してください")
IP_NOT_ALLOWED = ProblemError(403, "ip-not-allowed", "この接続元 IP アドレスからは利用できません",
                              "運用者は管理用ネットワークからのみログインできます")


class OperatorError(ValueError):
    """A command-line mistake (bad name, taken name, weak password): said plainly, nothing written."""


@dataclass(frozen=True)
class NewOperator:
    operator: Operator
    totp_secret: str  # shown once, for the authenticator app
    otpauth_uri: str


def _seal(keys: DataKeys, operator_id: str, secret: str) -> str:
    return keys.seal(secret.encode(), f"operator:{operator_id}".encode())


def _open(keys: DataKeys, op: Operator) -> str:
    return keys.open(op.totp_secret, f"operator:{op.id}".encode()).decode()


def by_name(session: Session, name: str, lock: bool = False) -> Operator | None:
    q = select(Operator).where(Operator.name == name)
    if lock:
        q = q.with_for_update()
    return session.execute(q).scalar_one_or_none()


def all_operators(session: Session) -> list[Operator]:
    return list(session.execute(select(Operator).order_by(Operator.name)).scalars())


def create(session: Session, name: str, display_name: str, password: str, *, passwords: Passwords,
           keys: DataKeys, issuer: str, now: datetime, actor: Actor) -> NewOperator:
    """A new operator with a fresh TOTP secret (answered once). The password follows the default
    policy and the blocklist, as a tenant user's would."""
    if not NAME.match(name):
        raise OperatorError("name: lower-case letters, digits, '.', '_' or '-', starting with a letter, ≤ 32")
    if not display_name.strip() or len(display_name) > 100:
        raise OperatorError("display name: 1 to 100 characters")
    if by_name(session, name) is not None:
        raise OperatorError(f"an operator named {name!r} exists")
    problems = password_policy.check_content(password_policy.PasswordPolicy(), password, name, blocklist.weakness)
    if problems:
        raise OperatorError("password: " + "; ".join(v.message for v in problems))
    op_id = str(uuid.uuid4())
    secret = totp_rules.new_secret()
    op = Operator(id=op_id, name=name, display_name=display_name.strip(), status=ACTIVE,
                  password_hash=passwords.hash(password), totp_secret=_seal(keys, op_id, secret),
                  failed_count=0, created_at=now)
    session.add(op)
    messaging.record(session, events.operator_changed(events.OPERATOR_CREATED, op_id, name, actor))
    return NewOperator(op, secret, totp_rules.provisioning_uri(secret, f"operator:{name}", issuer))


def disable(session: Session, name: str, actor: Actor) -> Operator:
    op = by_name(session, name, lock=True)
    if op is None:
        raise OperatorError(f"no operator named {name!r}")
    if op.status != DISABLED:
        op.status = DISABLED
        messaging.record(session, events.operator_changed(events.OPERATOR_DISABLED, op.id, op.name, actor))
    return op


@dataclass(frozen=True)
class SignedIn:
    access_token: str
    expires_in: int
    session_id: str


@dataclass(frozen=True)
class Refusal:
    error: ProblemError


def _failed(session: Session, ctx: AuthContext, op: Operator | None, reason: str, ip: str | None,
            user_agent: str | None) -> Refusal:
    now = ctx.clock.now()
    # In the login history (it feeds the per-source throttle) with no tenant.
    session.add(LoginEvent(id=str(uuid.uuid4()), tenant_id=None, user_id=op.id if op else None, at=now,
                           outcome="failed", reason=reason, ip=ip, user_agent=clip(user_agent)))
    messaging.record(session, events.operator_login(op.id if op else None, op.name if op else None, ip, reason))
    return Refusal(IP_NOT_ALLOWED if reason == "ip_not_allowed" else REFUSED)


def sign_in(session: Session, ctx: AuthContext, name: str, password: str, code: str, ip: str | None,
            user_agent: str | None) -> SignedIn | Refusal:
    now = ctx.clock.now()
    if ip:
        retry = ctx.throttle.retry_after(source_failures_since(session, ip, now - ctx.throttle.window))
        if retry is not None:
            messaging.record(session, events.operator_login(None, None, ip, "throttled"))
            return Refusal(throttled(retry))
    op = by_name(session, name, lock=True) if NAME.match(name) else None
    ok = ctx.passwords.verify(op.password_hash if op else None, password)  # one argon2 run on every path
    # Empty allowlist: nobody (unlike a tenant's, where empty means no restriction).
    cidrs = ctx.settings.operator_allowlist
    if not cidrs or not allowlist.allows(cidrs, ip):
        return _failed(session, ctx, op, "ip_not_allowed", ip, user_agent)
    if op is None:
        return _failed(session, ctx, None, "unknown_operator", ip, user_agent)
    state = LockState(op.failed_count, op.locked_at, op.locked_until)
    if op.status != ACTIVE:
        return _failed(session, ctx, op, "disabled", ip, user_agent)
    if state.is_locked(now):
        return _failed(session, ctx, op, "locked", ip, user_agent)
    reason = None
    if not ok:
        reason = "bad_password"
    else:
        secret = _open(ctx.data_keys, op)
        step = totp_rules.match_step(secret, code, now, op.totp_last_step)
        if step is None:
            reason = "totp_replayed" if totp_rules.is_replay(secret, code, now, op.totp_last_step) else "bad_totp"
        else:
            op.totp_last_step = step
    if reason is not None:
        after = after_failure(state, LOCKOUT, now)
        op.failed_count, op.locked_at, op.locked_until = (after.state.failed_count, after.state.locked_at,
                                                          after.state.locked_until)
        return _failed(session, ctx, op, reason, ip, user_agent)
    assert op.password_hash
    if ctx.passwords.needs_rehash(op.password_hash):
        op.password_hash = ctx.passwords.hash(password)
    cleared_state = cleared()
    op.failed_count, op.locked_at, op.locked_until = 0, cleared_state.locked_at, cleared_state.locked_until
    op.last_login_at, op.last_login_ip = now, ip
    sid = str(uuid.uuid4())
    session.add(LoginEvent(id=str(uuid.uuid4()), tenant_id=None, user_id=op.id, at=now, outcome="succeeded",
                           method="password+totp", ip=ip, user_agent=clip(user_agent)))
    messaging.record(session, events.operator_login(op.id, op.name, ip, None, sid))
    ttl = ctx.settings.operator_token_ttl_seconds
    token = ctx.keys.signer.sign({"sub": op.name, "typ": "access", "kind": "operator", "roles": ["operator"],
                                  "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER, "sid": sid, "amr": AMR,
                                  "name": op.display_name, "oid": op.id}, ttl)
    return SignedIn(token, ttl, sid)
