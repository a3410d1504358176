"""Events the auth service publishes and the accounts events it consumes.

Published events carry ids and facts only: never a password, a TOTP secret or code, a recovery
code, a refresh token or a client secret, and never the login id typed at a failed login (a
password typed into the id field would leak)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.events import SYSTEM, Actor, EventEnvelope

LOGIN_SUCCEEDED = "roumu.auth.login.succeeded"
LOGIN_FAILED = "roumu.auth.login.failed"
ACCOUNT_LOCKED = "roumu.auth.account.locked"
ACCOUNT_UNLOCKED = "roumu.auth.account.unlocked"
PASSWORD_CHANGED = "roumu.auth.password.changed"  # noqa: S105 - an event type
PASSWORD_RESET = "roumu.auth.password.reset"  # noqa: S105 - an event type
TOTP_ENROLLED = "roumu.auth.totp.enrolled"
TOTP_RESET = "roumu.auth.totp.reset"
DEVICE_CERT_ISSUED = "roumu.auth.device_certificate.issued"
DEVICE_CERT_REVOKED = "roumu.auth.device_certificate.revoked"
SESSION_REVOKED = "roumu.auth.session.revoked"
PARTNER_CLIENT_CREATED = "roumu.auth.partner_client.created"
PARTNER_CLIENT_ROTATED = "roumu.auth.partner_client.rotated"
PARTNER_CLIENT_DISABLED = "roumu.auth.partner_client.disabled"
PARTNER_CLIENT_UPDATED = "roumu.auth.partner_client.updated"
OPERATOR_CREATED = "roumu.auth.operator.created"
OPERATOR_DISABLED = "roumu.auth.operator.disabled"
OPERATOR_LOGIN_SUCCEEDED = "roumu.auth.operator.login_succeeded"
OPERATOR_LOGIN_FAILED = "roumu.auth.operator.login_failed"

TENANT_CREATED = "roumu.accounts.tenant.created"
TENANT_SETTINGS_CHANGED = "roumu.accounts.tenant.settings_changed"
USER_CREATED = "roumu.accounts.user.created"
USER_UPDATED = "roumu.accounts.user.updated"
USER_DISABLED = "roumu.accounts.user.disabled"
USER_DELETED = "roumu.accounts.user.deleted"
USER_PERMISSIONS_CHANGED = "roumu.accounts.user.permissions_changed"


def _user_event(type_: str, tenant_id: str, user_id: str, actor: Actor, data: dict[str, Any]) -> EventEnvelope:
    return EventEnvelope(type=type_, tenant_id=tenant_id, actor=actor,
                         subject={"user_id": user_id, "tenant_id": tenant_id}, data=data)


def login_succeeded(tenant_id: str, user_id: str, ip: str | None, user_agent: str | None, method: str,
                    session_id: str) -> EventEnvelope:
    return EventEnvelope(type=LOGIN_SUCCEEDED, tenant_id=tenant_id, actor=Actor(kind="user", id=user_id, ip=ip),
                         subject={"user_id": user_id, "session_id": session_id},
                         data={"method": method, "user_agent": user_agent})


def login_failed(tenant_id: str | None, user_id: str | None, ip: str | None, reason: str,
                 user_agent: str | None = None) -> EventEnvelope:
    return EventEnvelope(type=LOGIN_FAILED, tenant_id=tenant_id,
                         actor=Actor(kind="user", id=user_id or "unknown", ip=ip),
                         subject={"user_id": user_id or "unknown"},
                         data={"reason": reason, "user_agent": user_agent})


def account_locked(tenant_id: str, user_id: str, ip: str | None, failures: int, locked_until: datetime | None,
                   lockout_id: str) -> EventEnvelope:
    return _user_event(ACCOUNT_LOCKED, tenant_id, user_id, Actor(kind="system", id="auth", ip=ip), {
        "lockout_id": lockout_id, "failures": failures,
        "locked_until": locked_until.isoformat() if locked_until else None})


def account_unlocked(tenant_id: str, user_id: str, actor: Actor, reason: str, lockout_id: str | None) -> EventEnvelope:
    return _user_event(ACCOUNT_UNLOCKED, tenant_id, user_id, actor, {"reason": reason, "lockout_id": lockout_id})


def password_changed(tenant_id: str, user_id: str, actor: Actor, via: str, forced: bool) -> EventEnvelope:
    return _user_event(PASSWORD_CHANGED, tenant_id, user_id, actor, {"via": via, "forced": forced})


def password_reset(tenant_id: str, user_id: str, actor: Actor) -> EventEnvelope:
    return _user_event(PASSWORD_RESET, tenant_id, user_id, actor, {"must_change": True})


def totp_enrolled(tenant_id: str, user_id: str, actor: Actor, recovery_count: int) -> EventEnvelope:
    return _user_event(TOTP_ENROLLED, tenant_id, user_id, actor, {"recovery_count": recovery_count})


def totp_reset(tenant_id: str, user_id: str, actor: Actor) -> EventEnvelope:
    return _user_event(TOTP_RESET, tenant_id, user_id, actor, {})


def device_certificate(type_: str, tenant_id: str, serial: str, actor: Actor, label: str,
                       not_after: datetime) -> EventEnvelope:
    return EventEnvelope(type=type_, tenant_id=tenant_id, actor=actor,
                         subject={"serial": serial, "tenant_id": tenant_id},
                         data={"label": label, "not_after": not_after.isoformat()})


def session_revoked(tenant_id: str, user_id: str, session_id: str, actor: Actor, reason: str) -> EventEnvelope:
    """Other services keep a small read model of revoked `sid`s from this (access tokens are
    verified offline and live up to 15 minutes)."""
    return EventEnvelope(type=SESSION_REVOKED, tenant_id=tenant_id, actor=actor,
                         subject={"session_id": session_id, "user_id": user_id}, data={"reason": reason})


def partner_tokens_revoked(tenant_id: str, client_id: str, token_sid: str, actor: Actor,
                           reason: str) -> EventEnvelope:
    """The same feed as a user's session: every service refuses tokens carrying this `sid`."""
    return EventEnvelope(type=SESSION_REVOKED, tenant_id=tenant_id, actor=actor,
                         subject={"session_id": token_sid, "client_id": client_id}, data={"reason": reason})


def partner_client(type_: str, tenant_id: str, client_id: str, actor: Actor, name: str,
                   scopes: list[str], jigyosho_ids: list[str] | None = None) -> EventEnvelope:
    return EventEnvelope(type=type_, tenant_id=tenant_id, actor=actor,
                         subject={"client_id": client_id, "tenant_id": tenant_id},
                         data={"name": name, "scopes": scopes, "jigyosho_ids": jigyosho_ids})


def operator_changed(type_: str, operator_id: str, name: str, actor: Actor) -> EventEnvelope:
    """An operator account created or disabled: no tenant's, in the system log."""
    return EventEnvelope(type=type_, tenant_id=None, actor=actor,
                         subject={"operator_id": operator_id}, data={"name": name})


def operator_login(operator_id: str | None, name: str | None, ip: str | None, reason: str | None,
                   session_id: str | None = None) -> EventEnvelope:
    """An operator's sign-in (reason None) or its refusal. Only a known operator's name is
    recorded: a name typed at a failed sign-in could be a password typed in the wrong field."""
    actor = Actor(kind="operator", id=name or "unknown", ip=ip)
    if reason is None:
        assert operator_id and session_id
        return EventEnvelope(type=OPERATOR_LOGIN_SUCCEEDED, tenant_id=None, actor=actor,
                             subject={"operator_id": operator_id, "session_id": session_id}, data={})
    return EventEnvelope(type=OPERATOR_LOGIN_FAILED, tenant_id=None, actor=actor,
                         subject={"operator_id": operator_id or "unknown"}, data={"reason": reason})


SYSTEM_ACTOR = SYSTEM
