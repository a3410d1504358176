"""Routes of the efiling service: parse, authorize, call a use case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status

from services.efiling import repository, service
from services.efiling.schemas import IDEMPOTENCY_KEY, FilingCreate, FilingOut
from shared.auth_deps import TenantPrincipal, actor_of, require_menu
from shared.errors import not_found, problem_responses
from shared.permissions import EFILING, Access
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("efiling"), tags=["efiling"])
Rt = Annotated[Runtime, Depends(runtime)]
CanRead = Annotated[Access, Depends(require_menu(EFILING, "read"))]
CanWrite = Annotated[Access, Depends(require_menu(EFILING, "write"))]

PROBLEMS = problem_responses(401, 403, 404, 422)


REPLAYED: dict[int | str, dict[str, Any]] = {
    200: {"description": "同じ Idempotency-Key の再送: 最初に作成された申請", "model": FilingOut},
}


@router.post("/filings", status_code=status.HTTP_201_CREATED, response_model=FilingOut,
             responses={**PROBLEMS, **REPLAYED})
def draft_filing(
    body: FilingCreate, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt, response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY)] = None,
) -> FilingOut:
    """Draft an electronic filing. Send an `Idempotency-Key` to make a retry safe: the same key
    returns the filing it first created (200) instead of creating another."""
    access.check_jigyosho(body.jigyosho_id)
    with rt.transaction() as session:
        filing, created = service.draft_filing(session, access.tenant_id, body, actor_of(p, request),
                                               idempotency_key)
        out = FilingOut.model_validate(filing)
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"{router.prefix}/filings/{out.id}"
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/filings/{filing_id}", response_model=FilingOut, responses=PROBLEMS)
def get_filing(filing_id: str, access: CanRead, rt: Rt, response: Response) -> FilingOut:
    with rt.db.sessions() as session:
        # Scoped by tenant and 事業所 grant: an id outside them is indistinguishable from a missing one.
        filing = repository.filing_in_tenant(session, access.tenant_id, filing_id)
        if filing is None or not access.allows_jigyosho(filing.jigyosho_id):
            raise not_found()
        response.headers["ETag"] = f'"{filing.version}"'
        return FilingOut.model_validate(filing)
