"""Routes of the webhooks service: endpoints, secrets, the delivery log, redelivery.

Tenant administrators manage every endpoint of their tenant; a partner client with the scope
`webhooks:manage` manages only the endpoints it registered (another's ids answer 404)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy.orm import Session

from services.webhooks import context, service
from services.webhooks.events import EVENT_TYPES
from services.webhooks.models import Attempt, idempotency
from services.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    EndpointCreate,
    EndpointOut,
    EndpointPage,
    EndpointUpdate,
    EndpointWithSecret,
    EventTypeOut,
    RotateSecretIn,
)
from shared.auth_deps import TenantPrincipal, actor_of
from shared.errors import ProblemError, problem_responses
from shared.idempotency import Answer, IdempotencyKey
from shared.permissions import ACTIVE, TENANT_ADMIN, partner_jigyosho_claim
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("webhooks"), tags=["webhooks"])
Rt = Annotated[Runtime, Depends(runtime)]
IfMatch = Annotated[str | None, Header(alias="If-Match", description='取得時の ETag (例: "3")')]
Limit = Annotated[int, Query(ge=1, le=100, description="1 ページの件数")]
Offset = Annotated[int, Query(ge=0, le=100_000, description="先頭から飛ばす件数")]
SCOPE = "webhooks:manage"
PROBLEMS = problem_responses(401, 403, 404, 422)
EDIT_PROBLEMS = problem_responses(401, 403, 404, 412, 422, 428)


def partner_operation(*scopes: str) -> dict[str, Any]:
    """Marks an operation for the public Partner API (ops.contracts collects these)."""
    return {"x-roumu-partner": {"scopes": list(scopes)}}


def owner(p: TenantPrincipal, rt: Rt) -> service.Owner:
    assert p.tenant_id
    if p.kind == "partner":
        if SCOPE not in p.scopes:
            raise ProblemError(403, "forbidden", "この操作を行う権限がありません",
                               f"スコープ {SCOPE} が必要です", extra={"scope": SCOPE})
        return service.Owner(p.tenant_id, "partner", p.subject, partner_jigyosho_claim(p.claims))
    if p.kind == "user" and rt.permissions is not None:
        with rt.db.sessions() as session:
            grants = rt.permissions.load(session, p.tenant_id, p.subject)
        admin = (TENANT_ADMIN in p.roles) if grants is None else (
            TENANT_ADMIN in grants.roles and grants.status == ACTIVE)
        if admin:
            return service.Owner(p.tenant_id, "tenant", p.subject, None)
    raise ProblemError(403, "forbidden", "この操作を行う権限がありません", "テナント管理者の権限が必要です")


Owner = Annotated[service.Owner, Depends(owner)]


def _with_secret(e: Any, secret: str) -> EndpointWithSecret:
    return EndpointWithSecret(**service.endpoint_out(e).model_dump(), secret=secret)


@router.get("/event-types", response_model=list[EventTypeOut], responses=problem_responses(401, 403),
            openapi_extra=partner_operation(SCOPE))
def list_event_types(who: Owner) -> list[EventTypeOut]:
    """The event types an endpoint can subscribe to."""
    return [EventTypeOut(name=k, description=v) for k, v in EVENT_TYPES.items()]


@router.post("/endpoints", status_code=status.HTTP_201_CREATED, response_model=EndpointWithSecret,
             responses=problem_responses(401, 403, 422), openapi_extra=partner_operation(SCOPE))
def register_endpoint(body: EndpointCreate, who: Owner, p: TenantPrincipal, request: Request, rt: Rt,
                      idempotency_key: IdempotencyKey = None) -> Response:
    """Register a receiver for some event types. The answer holds the signing `secret`, shown only
    here (and at each rotation). With `Idempotency-Key` a resend answers the first result (the
    stored answer is sealed, since it holds the secret)."""
    ctx = context.of(rt)

    def work(session: Session) -> Answer:
        e, secret = service.register(session, ctx, who, body, actor_of(p, request))
        return Answer(201, _with_secret(e, secret), {"Location": f"{router.prefix}/endpoints/{e.id}",
                                                     "ETag": f'"{e.version}"'})

    return idempotency.run(rt.transaction, request, who.tenant_id, who.id, idempotency_key,
                           body.model_dump(mode="json"), work, seal=ctx.data_keys)


@router.get("/endpoints", response_model=EndpointPage, responses=PROBLEMS, openapi_extra=partner_operation(SCOPE))
def list_endpoints(who: Owner, rt: Rt, status_: Annotated[Literal["active", "disabled"] | None,
                                                          Query(alias="status")] = None,
                   limit: Limit = 50, offset: Offset = 0) -> EndpointPage:
    """Endpoints the caller manages, oldest first."""
    with rt.db.sessions() as session:
        rows, total = service.list_endpoints(session, who, status_, limit, offset)
        return EndpointPage(items=[service.endpoint_out(e) for e in rows], total=total, limit=limit, offset=offset)


@router.get("/endpoints/{endpoint_id}", response_model=EndpointOut, responses=PROBLEMS,
            openapi_extra=partner_operation(SCOPE))
def get_endpoint(endpoint_id: str, who: Owner, rt: Rt, response: Response) -> EndpointOut:
    with rt.db.sessions() as session:
        e = service.visible_endpoint(session, who, endpoint_id)
        response.headers["ETag"] = f'"{e.version}"'
        return service.endpoint_out(e)


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointOut, responses=EDIT_PROBLEMS,
              openapi_extra=partner_operation(SCOPE))
def update_endpoint(endpoint_id: str, body: EndpointUpdate, who: Owner, p: TenantPrincipal, request: Request,
                    rt: Rt, response: Response, if_match: IfMatch = None) -> EndpointOut:
    """Change URL, event types or description; `status: active` resumes an endpoint that was
    disabled (by hand or after persistent failure), `disabled` stops it."""
    with rt.transaction() as session:
        e = service.update(session, context.of(rt), who, endpoint_id, body, if_match, actor_of(p, request))
        response.headers["ETag"] = f'"{e.version}"'
        return service.endpoint_out(e)


@router.delete("/endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, responses=PROBLEMS,
               openapi_extra=partner_operation(SCOPE))
def delete_endpoint(endpoint_id: str, who: Owner, rt: Rt) -> Response:
    """Remove the endpoint and its delivery log."""
    with rt.transaction() as session:
        service.delete_endpoint(session, who, endpoint_id)
    return Response(status_code=204)


@router.post("/endpoints/{endpoint_id}/secret", response_model=EndpointWithSecret,
             responses=problem_responses(401, 403, 404, 409, 422),
             openapi_extra=partner_operation(SCOPE))
def rotate_secret(endpoint_id: str, who: Owner, p: TenantPrincipal, request: Request, rt: Rt,
                  body: RotateSecretIn | None = None) -> EndpointWithSecret:
    """A new signing secret (shown only here). During the overlap (`overlap_hours`, default 24)
    deliveries carry two signatures, one per secret, so the receiver can switch at its own pace;
    secrets of earlier rotations keep signing until their own overlap ends (at most 10 secrets sign
    at once: another rotation with an overlap is then 409 `too-many-secrets`; overlap 0 ends every
    earlier secret at once)."""
    with rt.transaction() as session:
        e, secret = service.rotate_secret(session, context.of(rt), who, endpoint_id,
                                          body.overlap_hours if body else None, actor_of(p, request))
        return _with_secret(e, secret)


@router.get("/endpoints/{endpoint_id}/deliveries", response_model=DeliveryPage, responses=PROBLEMS,
            openapi_extra=partner_operation(SCOPE))
def list_deliveries(endpoint_id: str, who: Owner, rt: Rt,
                    status_: Annotated[Literal["pending", "succeeded", "failed"] | None, Query(alias="status")] = None,
                    event_type: Annotated[str | None, Query(max_length=100)] = None,
                    limit: Limit = 50, offset: Offset = 0) -> DeliveryPage:
    """The delivery log of one endpoint, newest first."""
    with rt.db.sessions() as session:
        rows, total = service.list_deliveries(session, who, endpoint_id, status_, event_type, limit, offset)
        return DeliveryPage(items=[service.delivery_out(d) for d in rows], total=total, limit=limit, offset=offset)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail, responses=PROBLEMS,
            openapi_extra=partner_operation(SCOPE))
def get_delivery(delivery_id: str, who: Owner, rt: Rt) -> DeliveryDetail:
    """One delivery: the body sent and every attempt (time, HTTP status or error, duration)."""
    from sqlalchemy import select

    with rt.db.sessions() as session:
        d = service.visible_delivery(session, who, delivery_id)
        attempts = session.execute(select(Attempt).where(Attempt.delivery_id == d.id)
                                   .order_by(Attempt.number)).scalars().all()
        return DeliveryDetail(**service.delivery_out(d).model_dump(), payload=d.payload,
                              attempt_log=[AttemptOut(number=a.number, at=a.at, status_code=a.status_code,
                                                      error=a.error, duration_ms=a.duration_ms, manual=a.manual)
                                           for a in attempts])


@router.post("/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED, response_model=DeliveryOut,
             responses=problem_responses(401, 403, 404, 409), openapi_extra=partner_operation(SCOPE))
def redeliver(delivery_id: str, who: Owner, rt: Rt) -> DeliveryOut:
    """Send a delivery again now (same event id), with a fresh retry period. Repeating the call
    while it is pending changes nothing."""
    with rt.transaction() as session:
        d = service.redeliver(session, context.of(rt), who, delivery_id)
        return service.delivery_out(d)
