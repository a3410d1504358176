"""FastAPI dependencies that turn a bearer token into a verified Principal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from shared.errors import ProblemError
from shared.events import Actor
from shared.permissions import MENUS, Access, Level, decide, menu_forbidden, partner_jigyosho_claim
from shared.service_app import Runtime, runtime
from shared.tokens import Principal, TokenError

UNAUTHENTICATED = ProblemError(
    401, "unauthenticated", "認証が必要です", "有効なアクセストークンを指定してください",
    headers={"WWW-Authenticate": 'Bearer realm="roumu"'},
)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UNAUTHENTICATED
    return token.strip()


async def principal(request: Request, rt: Annotated[Runtime, Depends(runtime)]) -> Principal:
    """A user or partner access token, or a service token addressed to this service. Async: the
    check is CPU work (an Ed25519 verify, an in-memory revocation look-up) that a thread-pool hop
    only delays; routes with a database then use their own threads."""
    token = _bearer(request)
    try:
        kid_use = rt.verifier.key_use(token)
        if kid_use == "internal":
            return rt.verifier.verify_service(token, audience=rt.name)
        p = rt.verifier.verify_access(token)
    except TokenError as exc:
        raise UNAUTHENTICATED from exc
    sid = p.claims.get("sid")
    if sid and rt.revoked is not None and rt.revoked.is_revoked(str(sid)):
        raise UNAUTHENTICATED  # logged out, ended or revoked: refused before the token expires
    return p


CurrentPrincipal = Annotated[Principal, Depends(principal)]


async def tenant_principal(p: CurrentPrincipal) -> Principal:
    """A caller acting inside one tenant (every tenant-data route)."""
    if not p.tenant_id:
        raise ProblemError(403, "forbidden", "この操作を行う権限がありません", "テナントに属さない呼び出しです")
    return p


TenantPrincipal = Annotated[Principal, Depends(tenant_principal)]


async def operator_principal(p: CurrentPrincipal) -> Principal:
    """The system operator: manages tenants, strictly apart from tenant users."""
    if p.kind != "operator" and not (p.kind == "service" and p.tenant_id is None):
        raise ProblemError(403, "forbidden", "この操作を行う権限がありません", "運用者の権限が必要です")
    return p


OperatorPrincipal = Annotated[Principal, Depends(operator_principal)]


def actor_of(p: Principal, request: Request) -> Actor:
    """The actor recorded on events: who, and from which address (forwarded by the gateway)."""
    kind = p.kind if p.kind in ("user", "partner", "service", "operator") else "user"
    ip = request.headers.get("x-roumu-client-ip") if p.kind != "service" else None
    if ip is None and request.client:
        ip = request.client.host
    return Actor(kind=kind, id=p.subject, ip=ip)


def require_menu(menu: str, level: Level, partner_scopes: tuple[str, ...] = ()) -> Callable[..., Access]:
    """A dependency answering the caller's Access to one menu, decided from this service's
    permission read model (shared.permissions): 403 when the menu is not held.

        access: Annotated[Access, Depends(require_menu("koyo_hoken", "write"))]

    The service must be created with `create_service_app(..., permissions=...)`. A partner token is
    limited to the 事業所 in its `jigyosho_ids` claim; `partner_scopes` lets a partner holding one of
    those scopes in (a write-only scope for one route, e.g. `mynumber:write`)."""
    if menu not in MENUS:
        raise ValueError(f"unknown menu {menu!r}")

    def dependency(p: TenantPrincipal, rt: Annotated[Runtime, Depends(runtime)]) -> Access:
        assert p.tenant_id
        if rt.permissions is None:
            raise RuntimeError(f"{rt.name} was created without a permission read model")
        grants = None
        if p.kind == "user":
            with rt.db.sessions() as session:
                grants = rt.permissions.load(session, p.tenant_id, p.subject)
        decision = decide(p.kind, p.roles, p.scopes, grants, menu, level,
                          partner_jigyosho=partner_jigyosho_claim(p.claims) if p.kind == "partner" else None,
                          partner_scopes=partner_scopes)
        if decision is None:
            raise menu_forbidden(menu, level)
        return Access(tenant_id=p.tenant_id, user_id=p.subject, kind=p.kind, menu=menu, level=level,
                      jigyosho_ids=decision.jigyosho_ids)

    return dependency
