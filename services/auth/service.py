"""Replicas of accounts' tenants, users and tenant settings; the seed path; administrators'
unlock. The login flow is in login.py, passwords in passwords_service.py, sessions in
sessions.py, TOTP in totp_service.py, device certificates in certificates.py, partners in
partners.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.auth import events, records, sessions
from services.auth.models import Credential, PasswordHistory, TenantPolicy, TenantRef, permissions
from services.auth.passwords import DEFAULT, Passwords
from shared.clock import SYSTEM_CLOCK, Clock
from shared.db import insert_unless_present
from shared.errors import ProblemError
from shared.events import SYSTEM, Actor, EventEnvelope


def _claim_code(session: Session, tenant_id: str, code: str) -> None:
    """Accounts keeps tenant codes unique at any time: a code arriving for another tenant id means
    the old tenant is gone (purged, its code reused), so its stale reference gives way."""
    stale = session.execute(select(TenantRef).where(TenantRef.code == code, TenantRef.tenant_id != tenant_id))
    for ref in stale.scalars():
        session.delete(ref)
    session.flush()


def on_tenant_created(session: Session, event: EventEnvelope) -> None:
    tenant_id = event.subject["tenant_id"]
    _claim_code(session, tenant_id, event.data["code"])
    ref = session.get(TenantRef, tenant_id)
    if ref is None:
        session.add(TenantRef(tenant_id=tenant_id, code=event.data["code"], status=event.data["status"]))
    else:
        ref.code, ref.status = event.data["code"], event.data["status"]


def on_tenant_settings_changed(session: Session, event: EventEnvelope) -> None:
    """The whole settings object each time (not a patch), so a redelivery or a late older event
    cannot leave a mix; occurred_at decides which one is newest."""
    tenant_id = event.subject["tenant_id"]
    d = event.data
    row = session.get(TenantPolicy, tenant_id)
    if row is not None and row.updated_at > event.occurred_at:
        return
    if row is None:
        row = TenantPolicy(tenant_id=tenant_id)
        session.add(row)
    row.totp_required = bool(d.get("totp_required", False))
    row.device_cert_required = bool(d.get("device_cert_required", False))
    row.ip_allowlist = list(d.get("ip_allowlist") or [])
    row.password_policy = dict(d.get("password_policy") or {})
    row.lockout_policy = dict(d.get("lockout_policy") or {})
    row.updated_at = event.occurred_at


def on_user_created(session: Session, event: EventEnvelope) -> None:
    # A tenant that is gone (purged at contract end) gets no credentials back from a late event.
    if session.get(TenantRef, event.subject["tenant_id"]) is None:
        return
    cred = session.get(Credential, event.subject["user_id"])
    before = (sorted(cred.roles), cred.status) if cred is not None else None
    cred = upsert_credential(session, event.subject["user_id"], event.subject["tenant_id"], event.data["login_id"],
                             list(event.data["roles"]), event.data["status"])
    if before is not None and before != (sorted(cred.roles), cred.status):
        # New roles (or status) need a new login: no token keeps rights the user no longer has.
        sessions.revoke_all(session, event.occurred_at, cred.user_id, event.actor, "roles_changed")


on_user_updated = on_user_created


def on_permissions_changed(session: Session, event: EventEnvelope) -> None:
    """A newer grants snapshot (roles, menus, 事業所, status) ends the user's sessions at once:
    every service follows roumu.auth.session.revoked, so no token outlives the rights it was
    issued under. The same snapshot again (a redelivery, accounts' republish) changes nothing.
    Version 1 is the user's creation, not a change. A session begun after the change is spared:
    access tokens carry roles only (handled by on_user_updated), and every service reads menus and
    事業所 from its own read model, so that session already runs under the new grants; ending it
    would log out a user who logged in again before this event reached auth."""
    tenant_id, user_id = event.subject["tenant_id"], event.subject["user_id"]
    applied = permissions.apply_snapshot(session, tenant_id, user_id, event.data)
    if applied and int(event.data["permissions_version"]) > 1:
        sessions.revoke_all(session, event.occurred_at, user_id, event.actor, "permissions_changed",
                            created_before=event.occurred_at)


def _end_sessions(session: Session, event: EventEnvelope, status: str) -> None:
    """A disabled or deleted user is logged out everywhere (session.revoked for each session)."""
    cred = session.get(Credential, event.subject["user_id"])
    if cred is None:
        return
    cred.status = status
    permissions.set_status(session, cred.tenant_id, cred.user_id, status)
    sessions.revoke_all(session, event.occurred_at, cred.user_id, event.actor, f"user_{status}")


def on_user_disabled(session: Session, event: EventEnvelope) -> None:
    _end_sessions(session, event, "disabled")


def on_user_deleted(session: Session, event: EventEnvelope) -> None:
    _end_sessions(session, event, "deleted")


ACCOUNTS_HANDLERS = {
    events.TENANT_CREATED: on_tenant_created,
    events.TENANT_SETTINGS_CHANGED: on_tenant_settings_changed,
    events.USER_CREATED: on_user_created,
    events.USER_UPDATED: on_user_updated,
    events.USER_DISABLED: on_user_disabled,
    events.USER_DELETED: on_user_deleted,
    events.USER_PERMISSIONS_CHANGED: on_permissions_changed,
}


def upsert_credential(session: Session, user_id: str, tenant_id: str, login_id: str, roles: list[str],
                      status: str) -> Credential:
    cred = session.get(Credential, user_id)
    if cred is None:
        cred = Credential(user_id=user_id, tenant_id=tenant_id, login_id=login_id, roles=roles, status=status,
                          failed_count=0, must_change_password=False)
        session.add(cred)
    else:
        cred.login_id, cred.roles = login_id, roles
        # A deleted user stays deleted even if an older update arrives late.
        if cred.status != "deleted":
            cred.status = status
    session.flush()
    return cred


def set_password(session: Session, cred: Credential, password: str, passwords: Passwords = DEFAULT,
                 clock: Clock = SYSTEM_CLOCK) -> None:
    """The seed path's password: set as given (the operator chose it), recorded in the history.
    Users' own changes go through passwords_service with every rule."""
    now = clock.now()
    cred.password_hash = passwords.hash(password)
    cred.password_changed_at = now
    session.add(PasswordHistory(id=str(uuid.uuid4()), user_id=cred.user_id, password_hash=cred.password_hash,
                                created_at=now))


def provision(session: Session, tenant_id: str, tenant_code: str, user_id: str, login_id: str,
              roles: list[str], password: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """Seed path (ops.seed): tenant and credential without waiting for accounts' events, which
    arrive later and are applied as idempotent upserts."""
    _claim_code(session, tenant_id, tenant_code)
    # auth's consumer may be applying accounts' tenant.created / user.created at this moment: insert
    # only what is not there yet, so the seed and the consumer never fail each other on the key.
    tables = TenantRef.metadata.tables
    insert_unless_present(session, tables["tenant_refs"],
                          {"tenant_id": tenant_id, "code": tenant_code, "status": "active"}, ["tenant_id"])
    insert_unless_present(session, tables["credentials"], {
        "user_id": user_id, "tenant_id": tenant_id, "login_id": login_id, "roles": roles, "status": "active",
        "failed_count": 0, "must_change_password": False, "version": 1}, ["user_id"])
    cred = upsert_credential(session, user_id, tenant_id, login_id, roles, "active")
    set_password(session, cred, password, clock=clock)


NOT_LOCKED = ProblemError(409, "not-locked", "このアカウントはロックされていません")


def unlock(session: Session, cred: Credential, actor: Actor, now: datetime | None = None) -> None:
    """An administrator's unlock (recorded with who did it)."""
    if cred.locked_at is None:
        raise NOT_LOCKED
    records.unlocked(session, now or datetime.now(UTC), cred, actor, "admin")


__all__ = ["SYSTEM", "provision", "unlock", "upsert_credential"]
