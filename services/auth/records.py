"""Login history and lockout records (kept 1 year), each with its published event.

History rows answer "my login history" and the per-source throttle; the events feed the audit
log. Both are written in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.auth import events, repository
from services.auth.models import Credential, Lockout, LoginEvent, messaging
from services.auth.rules.lockout import LockState
from shared.events import Actor

UA_MAX = 255


def clip(user_agent: str | None) -> str | None:
    return user_agent[:UA_MAX] if user_agent else None


def login_failed(session: Session, now: datetime, tenant_id: str | None, user_id: str | None, reason: str,
                 ip: str | None, user_agent: str | None, history: bool = True) -> None:
    if history:
        session.add(LoginEvent(id=str(uuid.uuid4()), tenant_id=tenant_id, user_id=user_id, at=now,
                               outcome="failed", reason=reason, ip=ip, user_agent=clip(user_agent)))
    messaging.record(session, events.login_failed(tenant_id, user_id, ip, reason, clip(user_agent)))


def login_succeeded(session: Session, now: datetime, cred: Credential, method: str, session_id: str,
                    ip: str | None, user_agent: str | None) -> None:
    session.add(LoginEvent(id=str(uuid.uuid4()), tenant_id=cred.tenant_id, user_id=cred.user_id, at=now,
                           outcome="succeeded", method=method, ip=ip, user_agent=clip(user_agent)))
    messaging.record(session, events.login_succeeded(cred.tenant_id, cred.user_id, ip, clip(user_agent), method,
                                                     session_id))


def set_lock_state(cred: Credential, state: LockState) -> None:
    cred.failed_count, cred.locked_at, cred.locked_until = state.failed_count, state.locked_at, state.locked_until


def lock_state(cred: Credential) -> LockState:
    return LockState(cred.failed_count, cred.locked_at, cred.locked_until)


def locked(session: Session, now: datetime, cred: Credential, ip: str | None, user_agent: str | None) -> None:
    lockout = Lockout(id=str(uuid.uuid4()), tenant_id=cred.tenant_id, user_id=cred.user_id, locked_at=now,
                      locked_until=cred.locked_until, failures=cred.failed_count, ip=ip)
    session.add(lockout)
    session.add(LoginEvent(id=str(uuid.uuid4()), tenant_id=cred.tenant_id, user_id=cred.user_id, at=now,
                           outcome="locked", reason="threshold", ip=ip, user_agent=clip(user_agent)))
    messaging.record(session, events.account_locked(cred.tenant_id, cred.user_id, ip, cred.failed_count,
                                                    cred.locked_until, lockout.id))


def unlocked(session: Session, now: datetime, cred: Credential, actor: Actor, reason: str) -> None:
    """Clear the lock and close its record; `reason` is "expired" (the period passed, recorded
    at the next attempt, with the time the period ended) or "admin"."""
    open_ = repository.open_lockout(session, cred.user_id)
    at = cred.locked_until if reason == "expired" and cred.locked_until else now
    if open_ is not None:
        open_.unlocked_at, open_.unlock_reason = at, reason
        open_.unlocked_by = actor.id if reason == "admin" else None
    set_lock_state(cred, LockState())
    messaging.record(session, events.account_unlocked(cred.tenant_id, cred.user_id, actor, reason,
                                                      open_.id if open_ else None))


def purge(session: Session, cutoff: datetime) -> None:
    """Login history and lockout records from before `cutoff` go (rules/retention.kept_since)."""
    session.execute(delete(LoginEvent).where(LoginEvent.at < cutoff))
    session.execute(delete(Lockout).where(Lockout.locked_at < cutoff, Lockout.unlocked_at.is_not(None)))
