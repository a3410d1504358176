"""Routes of the jimukumiai service: parse, authorize, call a use case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.jimukumiai import repository, service
from services.jimukumiai.schemas import REF_ID, MemberCreate, MemberOut, MemberPage
from shared.auth_deps import TenantPrincipal, actor_of, require_menu
from shared.errors import not_found, problem_responses
from shared.permissions import JIMUKUMIAI, Access
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("jimukumiai"), tags=["jimukumiai"])
Rt = Annotated[Runtime, Depends(runtime)]
CanRead = Annotated[Access, Depends(require_menu(JIMUKUMIAI, "read"))]
CanWrite = Annotated[Access, Depends(require_menu(JIMUKUMIAI, "write"))]

PROBLEMS = problem_responses(401, 403, 404, 409, 422)


@router.post("/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut, responses=PROBLEMS)
def entrust_member(body: MemberCreate, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                   response: Response) -> MemberOut:
    """Register a 委託事業主 (an employer entrusting its labour insurance affairs to the 事務組合)."""
    access.check_jigyosho(body.jigyosho_id)
    with rt.transaction() as session:
        member = service.entrust_member(session, access.tenant_id, body, actor_of(p, request))
        out = MemberOut.model_validate(member)
    response.headers["Location"] = f"{router.prefix}/members/{out.id}"
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/members", response_model=MemberPage, responses=PROBLEMS)
def list_members(
    access: CanRead, rt: Rt,
    jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> MemberPage:
    """委託事業主 of the 事業所 granted to the caller (one of them with `jigyosho_id`)."""
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    with rt.db.sessions() as session:
        rows, total = repository.members_in_tenant(session, access.tenant_id, jigyosho_id, access.jigyosho_ids,
                                                   limit, offset)
        return MemberPage(items=[MemberOut.model_validate(r) for r in rows], total=total, limit=limit,
                          offset=offset)


@router.get("/members/{member_id}", response_model=MemberOut, responses=PROBLEMS)
def get_member(member_id: str, access: CanRead, rt: Rt, response: Response) -> MemberOut:
    with rt.db.sessions() as session:
        # Scoped by tenant and 事業所 grant: an id outside them is indistinguishable from a missing one.
        member = repository.member_in_tenant(session, access.tenant_id, member_id)
        if member is None or not access.allows_jigyosho(member.jigyosho_id):
            raise not_found()
        response.headers["ETag"] = f'"{member.version}"'
        return MemberOut.model_validate(member)
