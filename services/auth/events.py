"""Events the auth service publishes and the accounts events it consumes."""

from __future__ import annotations

from shared.events import Actor, EventEnvelope

LOGIN_SUCCEEDED = "roumu.auth.login.succeeded"
LOGIN_FAILED = "roumu.auth.login.failed"

TENANT_CREATED = "roumu.accounts.tenant.created"
USER_CREATED = "roumu.accounts.user.created"


def login_succeeded(tenant_id: str, user_id: str, ip: str | None) -> EventEnvelope:
    return EventEnvelope(type=LOGIN_SUCCEEDED, tenant_id=tenant_id, actor=Actor(kind="user", id=user_id, ip=ip),
                         subject={"user_id": user_id}, data={"method": "password"})


def login_failed(tenant_id: str | None, user_id: str | None, ip: str | None, reason: str) -> EventEnvelope:
    # The typed login id is not recorded: a password typed into the id field would leak.
    return EventEnvelope(type=LOGIN_FAILED, tenant_id=tenant_id,
                         actor=Actor(kind="user", id=user_id or "unknown", ip=ip),
                         subject={"user_id": user_id or "unknown"}, data={"reason": reason})
