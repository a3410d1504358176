"""Setting and changing passwords under the tenant's policy (rules/password_policy.py)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from services.auth import events, repository, sessions
from services.auth.context import AuthContext
from services.auth.models import Credential, PasswordHistory, messaging
from services.auth.policies import tenant_settings
from services.auth.rules import blocklist
from services.auth.rules import password_policy as rules
from shared.errors import ProblemError
from shared.events import Actor


def policy_error(violations: list[rules.Violation]) -> ProblemError:
    """422 naming every rule broken; the password itself is never echoed."""
    extra = {}
    next_at = next((v.next_allowed_at for v in violations if v.next_allowed_at), None)
    if next_at is not None:
        extra["next_allowed_at"] = next_at.isoformat()
    return ProblemError(422, "password-policy", "パスワードが条件を満たしていません",
                        " / ".join(v.message for v in violations),
                        errors=[v.as_error() for v in violations], extra=extra)


def violations_of_current(session: Session, cred: Credential, password: str) -> list[rules.Violation]:
    """Does the password a user just logged in with still satisfy the policy? (The tenant may
    have tightened it, or it joined the blocklist: NIST asks for a change on such evidence.)
    The cheap checks only: this runs on every login."""
    policy = tenant_settings(session, cred.tenant_id).password
    return rules.check_content(policy, password, cred.login_id, blocklist.listed)


def set_password(session: Session, ctx: AuthContext, cred: Credential, new_password: str, *,
                 exempt_min_age: bool, check_history: bool = True, record: bool = True) -> None:
    """Check every rule, then hash, record in the history and keep only what the policy needs.
    `record` False: a temporary password (an administrator's reset) stays out of the history, so
    resets cannot push the user's own passwords out of it."""
    policy = tenant_settings(session, cred.tenant_id).password
    now = ctx.clock.now()
    found = rules.check_content(policy, new_password, cred.login_id, blocklist.weakness)
    age = rules.check_min_age(policy, cred.password_changed_at, now, exempt_min_age)
    if age is not None:
        found.insert(0, age)
    history = repository.password_history(session, cred.user_id)
    if not found and check_history:
        hashes = [h.password_hash for h in history]
        if cred.password_hash and cred.password_hash not in hashes:
            hashes.insert(0, cred.password_hash)  # the current one (a temporary password) counts too
        reused = rules.check_history(policy, new_password, hashes, ctx.passwords.matches)
        if reused is not None:
            found.append(reused)
    if found:
        raise policy_error(found)
    cred.password_hash = ctx.passwords.hash(new_password)
    cred.password_changed_at = now
    if not record:
        return
    session.add(PasswordHistory(id=str(uuid.uuid4()), user_id=cred.user_id, password_hash=cred.password_hash,
                                created_at=now))
    # Keep the newest `history` (the one just added counts); older ones are no longer needed.
    for old in history[max(policy.history - 1, 0):]:
        session.delete(old)


def change(session: Session, ctx: AuthContext, cred: Credential, new_password: str, actor: Actor, *,
           via: str, forced: bool, keep_session: str | None = None) -> int:
    """Change the password and end every session of the user but `keep_session` (the one that
    proved the current password): another device's session does not outlive the credential it
    logged in with. Answers how many sessions ended."""
    set_password(session, ctx, cred, new_password, exempt_min_age=forced)
    cred.must_change_password = False
    messaging.record(session, events.password_changed(cred.tenant_id, cred.user_id, actor, via, forced))
    return sessions.revoke_all(session, ctx.clock.now(), cred.user_id, actor, "password_changed", keep=keep_session)


def admin_reset(session: Session, ctx: AuthContext, cred: Credential, temporary_password: str, actor: Actor) -> None:
    """The administrator's reset: exempt from the daily limit, forces a change at next login."""
    set_password(session, ctx, cred, temporary_password, exempt_min_age=True, record=False)
    cred.must_change_password = True
    messaging.record(session, events.password_reset(cred.tenant_id, cred.user_id, actor))
