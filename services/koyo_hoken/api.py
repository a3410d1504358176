"""Routes of the koyo_hoken service: parse, authorize, call a use case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.koyo_hoken import repository, service
from services.koyo_hoken.schemas import REF_ID, InsuredPersonCreate, InsuredPersonOut, InsuredPersonPage
from shared.auth_deps import TenantPrincipal, actor_of, require_menu
from shared.errors import not_found, problem_responses
from shared.permissions import KOYO_HOKEN, Access
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("koyo_hoken"), tags=["koyo_hoken"])
Rt = Annotated[Runtime, Depends(runtime)]
CanRead = Annotated[Access, Depends(require_menu(KOYO_HOKEN, "read"))]
CanWrite = Annotated[Access, Depends(require_menu(KOYO_HOKEN, "write"))]

PROBLEMS = problem_responses(401, 403, 404, 422)


@router.post("/insured-persons", status_code=status.HTTP_201_CREATED, response_model=InsuredPersonOut,
             responses=PROBLEMS)
def register_insured_person(body: InsuredPersonCreate, p: TenantPrincipal, access: CanWrite, request: Request,
                            rt: Rt, response: Response) -> InsuredPersonOut:
    """Register an insured person (被保険者) of one of the 事業所 granted to the caller."""
    access.check_jigyosho(body.jigyosho_id)
    with rt.transaction() as session:
        person = service.register_insured_person(session, access.tenant_id, body, actor_of(p, request))
        out = InsuredPersonOut.model_validate(person)
    response.headers["Location"] = f"{router.prefix}/insured-persons/{out.id}"
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/insured-persons", response_model=InsuredPersonPage, responses=PROBLEMS)
def list_insured_persons(
    access: CanRead, rt: Rt,
    jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> InsuredPersonPage:
    """Insured persons of the 事業所 granted to the caller (one of them with `jigyosho_id`)."""
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    with rt.db.sessions() as session:
        rows, total = repository.insured_persons_in_tenant(session, access.tenant_id, jigyosho_id,
                                                           access.jigyosho_ids, limit, offset)
        return InsuredPersonPage(items=[InsuredPersonOut.model_validate(r) for r in rows],
                                 total=total, limit=limit, offset=offset)


@router.get("/insured-persons/{person_id}", response_model=InsuredPersonOut, responses=PROBLEMS)
def get_insured_person(person_id: str, access: CanRead, rt: Rt, response: Response) -> InsuredPersonOut:
    with rt.db.sessions() as session:
        # Scoped by tenant and 事業所 grant: an id outside them is indistinguishable from a missing one.
        person = repository.insured_person_in_tenant(session, access.tenant_id, person_id)
        if person is None or not access.allows_jigyosho(person.jigyosho_id):
            raise not_found()
        response.headers["ETag"] = f'"{person.version}"'
        return InsuredPersonOut.model_validate(person)
