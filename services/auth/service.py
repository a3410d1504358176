"""Use cases of the auth service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from services.auth import events, passwords, repository
from services.auth.models import Credential, TenantRef, messaging
from shared.errors import ProblemError
from shared.events import EventEnvelope
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER, TokenSigner

ACCESS_TTL_S = 15 * 60

# One answer for unknown tenant, unknown user, wrong password and disabled account: no enumeration.
LOGIN_REFUSED = ProblemError(401, "login-failed", "ログインできませんでした",
                             "テナントコード、ログインID、パスワードを確認してください")


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_in: int
    previous_at: datetime | None
    previous_ip: str | None


def login(session: Session, signer: TokenSigner, tenant_code: str, login_id: str, password: str,
          ip: str | None) -> LoginResult | None:
    """None when refused; the refusal is recorded (event) in the same transaction, which the
    caller commits before answering LOGIN_REFUSED."""
    tenant = repository.tenant_by_code(session, tenant_code)
    cred = repository.credential(session, tenant.tenant_id, login_id) if tenant else None
    ok = passwords.verify(cred.password_hash if cred else None, password)
    if not (ok and cred and tenant and tenant.status == "active" and cred.status == "active"):
        reason = "unknown_tenant" if tenant is None else "unknown_user" if cred is None else \
            "bad_password" if not ok else "disabled"
        messaging.record(session, events.login_failed(tenant.tenant_id if tenant else None,
                                                      cred.user_id if cred else None, ip, reason))
        return None
    assert cred.password_hash
    if passwords.needs_rehash(cred.password_hash):
        cred.password_hash = passwords.hash_password(password)
    previous_at, previous_ip = cred.last_login_at, cred.last_login_ip
    cred.last_login_at, cred.last_login_ip = datetime.now(UTC), ip
    token = signer.sign({"sub": cred.user_id, "tid": cred.tenant_id, "typ": "access", "kind": "user",
                         "roles": cred.roles, "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, ACCESS_TTL_S)
    messaging.record(session, events.login_succeeded(cred.tenant_id, cred.user_id, ip))
    return LoginResult(token, ACCESS_TTL_S, previous_at, previous_ip)


def on_tenant_created(session: Session, event: EventEnvelope) -> None:
    tenant_id = event.subject["tenant_id"]
    ref = session.get(TenantRef, tenant_id)
    if ref is None:
        session.add(TenantRef(tenant_id=tenant_id, code=event.data["code"], status=event.data["status"]))
    else:
        ref.code, ref.status = event.data["code"], event.data["status"]


def on_user_created(session: Session, event: EventEnvelope) -> None:
    upsert_credential(session, event.subject["user_id"], event.subject["tenant_id"], event.data["login_id"],
                      list(event.data["roles"]), event.data["status"])


def upsert_credential(session: Session, user_id: str, tenant_id: str, login_id: str, roles: list[str],
                      status: str) -> Credential:
    cred = session.get(Credential, user_id)
    if cred is None:
        cred = Credential(user_id=user_id, tenant_id=tenant_id, login_id=login_id, roles=roles, status=status)
        session.add(cred)
    else:
        cred.login_id, cred.roles, cred.status = login_id, roles, status
    session.flush()
    return cred


def set_password(session: Session, cred: Credential, password: str) -> None:
    """Password rules (length, history, once a day) come with the Identity issue."""
    cred.password_hash = passwords.hash_password(password)
    cred.password_changed_at = datetime.now(UTC)


def provision(session: Session, tenant_id: str, tenant_code: str, user_id: str, login_id: str,
              roles: list[str], password: str) -> None:
    """Seed path (ops.seed): tenant and credential without waiting for accounts' events, which
    arrive later and are applied as idempotent upserts."""
    if session.get(TenantRef, tenant_id) is None:
        session.add(TenantRef(tenant_id=tenant_id, code=tenant_code, status="active"))
    cred = upsert_credential(session, user_id, tenant_id, login_id, roles, "active")
    set_password(session, cred, password)
