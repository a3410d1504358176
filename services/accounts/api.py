"""Routes of the accounts service: parse, authorize, call a use case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from services.accounts import repository, service
from services.accounts.schemas import TenantCreate, TenantOut, UserCreate, UserOut
from shared.auth_deps import CurrentPrincipal, OperatorPrincipal, TenantPrincipal, actor_of
from shared.errors import forbidden, not_found, problem_responses
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("accounts"), tags=["accounts"])
Rt = Annotated[Runtime, Depends(runtime)]

PROBLEMS = problem_responses(401, 403, 404, 409, 422)


@router.post("/tenants", status_code=status.HTTP_201_CREATED, response_model=TenantOut, responses=PROBLEMS)
def create_tenant(body: TenantCreate, p: OperatorPrincipal, request: Request, rt: Rt) -> TenantOut:
    """Open a tenant (one contract). System operators only."""
    with rt.transaction() as session:
        tenant = service.create_tenant(session, body, actor_of(p, request))
        return TenantOut.model_validate(tenant)


@router.get("/tenants/{tenant_id}", response_model=TenantOut, responses=PROBLEMS)
def get_tenant(tenant_id: str, p: CurrentPrincipal, rt: Rt, response: Response) -> TenantOut:
    # Another tenant's id answers 404, never 403: its existence is not ours to reveal.
    if p.kind != "operator" and p.tenant_id != tenant_id:
        raise not_found()
    with rt.db.sessions() as session:
        tenant = repository.tenant_by_id(session, tenant_id)
        if tenant is None:
            raise not_found()
        response.headers["ETag"] = f'"{tenant.version}"'
        return TenantOut.model_validate(tenant)


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut, responses=PROBLEMS)
def create_user(body: UserCreate, p: TenantPrincipal, request: Request, rt: Rt) -> UserOut:
    """Register a staff user of the caller's tenant. Tenant administrators only; no self sign-up."""
    if "tenant_admin" not in p.roles:
        raise forbidden("管理者のみ利用者を登録できます")
    assert p.tenant_id
    with rt.transaction() as session:
        user = service.create_user(session, p.tenant_id, body, actor_of(p, request))
        return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut, responses=PROBLEMS)
def get_user(user_id: str, p: TenantPrincipal, rt: Rt, response: Response) -> UserOut:
    assert p.tenant_id
    with rt.db.sessions() as session:
        user = repository.user_in_tenant(session, p.tenant_id, user_id)
        if user is None:
            raise not_found()
        response.headers["ETag"] = f'"{user.version}"'
        return UserOut.model_validate(user)
