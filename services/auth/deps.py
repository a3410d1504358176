"""Dependencies of the auth routes: the context, the caller's live session, administrators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.auth import sessions
from services.auth.context import AuthContext
from services.auth.models import AuthSession, Credential, permissions
from shared.auth_deps import UNAUTHENTICATED, CurrentPrincipal
from shared.errors import forbidden
from shared.permissions import ACTIVE
from shared.service_app import Runtime, runtime
from shared.tokens import Principal

Rt = Annotated[Runtime, Depends(runtime)]
ADMIN_ROLE = "tenant_admin"


def auth_context(rt: Rt) -> AuthContext:
    ctx: AuthContext = rt.extras["auth"]
    return ctx


Ctx = Annotated[AuthContext, Depends(auth_context)]


def client_ip(request: Request) -> str | None:
    # Set by the gateway, which strips any copy sent from outside.
    return request.headers.get("x-roumu-client-ip") or (request.client.host if request.client else None)


def user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")


@dataclass(frozen=True)
class UserSession:
    principal: Principal
    session: AuthSession

    @property
    def user_id(self) -> str:
        return self.principal.subject

    @property
    def tenant_id(self) -> str:
        assert self.principal.tenant_id
        return self.principal.tenant_id


def user_session(p: CurrentPrincipal, rt: Rt, ctx: Ctx) -> UserSession:
    """A user's access token whose session is still alive (logout and timeouts take effect
    here at once; elsewhere through roumu.auth.session.revoked)."""
    sid = p.claims.get("sid")
    if p.kind != "user" or not p.tenant_id or not sid:
        raise UNAUTHENTICATED
    with rt.db.transaction() as session:
        s = sessions.active(session, ctx, str(sid), p.subject)
    return UserSession(p, s)


CurrentSession = Annotated[UserSession, Depends(user_session)]


def tenant_admin(us: CurrentSession, rt: Rt) -> UserSession:
    """An administrator as auth's read model says now, never the token's `roles` claim: the
    replicated credential (user.created/updated) and, once accounts published one, the grants
    snapshot must both say active tenant_admin."""
    with rt.db.transaction() as session:
        cred = session.get(Credential, us.user_id)
        grants = permissions.load(session, us.tenant_id, us.user_id)
    admin = cred is not None and cred.tenant_id == us.tenant_id and cred.status == ACTIVE \
        and ADMIN_ROLE in cred.roles
    if grants is not None:
        admin = admin and grants.status == ACTIVE and ADMIN_ROLE in grants.roles
    if not admin:
        raise forbidden("テナント管理者の権限が必要です")
    return us


TenantAdmin = Annotated[UserSession, Depends(tenant_admin)]
