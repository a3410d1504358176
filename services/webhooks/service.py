"""Use cases of the webhooks service: endpoints (register, change, rotate the secret, disable),
the fan-out of events into deliveries, the delivery log and manual redelivery.

Who: a tenant administrator (every endpoint of the tenant) or a partner client with the scope
`webhooks:manage` (only the endpoints it registered, and only events of the 事業所 its tenant
granted it). Another owner's ids answer 404."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.webhooks import events
from services.webhooks.context import WebhooksContext
from services.webhooks.models import Delivery, Endpoint, messaging
from services.webhooks.rules import destinations
from services.webhooks.schemas import DeliveryOut, EndpointCreate, EndpointOut, EndpointUpdate
from shared.errors import ProblemError, not_found
from shared.events import Actor, EventEnvelope

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True)
class Owner:
    """The caller managing webhooks: tenant, kind (`partner` | `tenant`), id, 事業所 (None = all)."""

    tenant_id: str
    kind: str
    id: str
    jigyosho_ids: frozenset[str] | None


def _aad(endpoint_id: str) -> bytes:
    return f"webhook-secret:{endpoint_id}".encode()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def validation(field: str, message: str) -> ProblemError:
    return ProblemError(422, "validation", "入力内容に誤りがあります", message,
                        extra={"errors": [{"field": field, "message": message, "code": "invalid"}]})


def check_url(ctx: WebhooksContext, url: str) -> str:
    parts = urlsplit(url)
    allowed = ("https", "http") if ctx.settings.allow_http else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise validation("body.url", "https:// の URL を指定してください")
    if parts.username or parts.password:
        raise validation("body.url", "URL に認証情報を含めないでください")
    try:
        destinations.resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                             destinations.parse_networks(ctx.settings.allowed_networks))
    except destinations.RefusedDestination:
        raise validation("body.url", "内部ネットワークやループバックのアドレスには送信できません") from None
    except destinations.UnresolvedDestination:
        pass  # not resolvable now: judged again, and pinned, at every delivery
    except ValueError:
        raise validation("body.url", "URL のホスト名が正しくありません") from None
    return url


def endpoint_out(e: Endpoint) -> EndpointOut:
    return EndpointOut(id=e.id, url=e.url, description=e.description, event_types=e.event_types,
                       jigyosho_ids=e.jigyosho_ids, status=e.status,
                       disabled_reason=e.disabled_reason, disabled_at=e.disabled_at,
                       previous_secret_expires_at=e.previous_secret_expires_at, created_at=e.created_at,
                       version=e.version)


def delivery_out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(id=d.id, endpoint_id=d.endpoint_id, event_id=d.event_id, event_type=d.event_type,
                       status=d.status, attempts=d.attempts,
                       next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
                       last_status_code=d.last_status_code, last_error=d.last_error, created_at=d.created_at,
                       delivered_at=d.delivered_at)


def _visible(owner: Owner) -> list[Any]:
    conds: list[Any] = [Endpoint.tenant_id == owner.tenant_id]
    if owner.kind == "partner":
        conds += [Endpoint.owner_kind == "partner", Endpoint.owner_id == owner.id]
    return conds


def visible_endpoint(session: Session, owner: Owner, endpoint_id: str, lock: bool = False) -> Endpoint:
    q = select(Endpoint).where(Endpoint.id == endpoint_id, *_visible(owner))
    e = session.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if e is None:
        raise not_found()
    return e


def check_version(current: int, if_match: str | None) -> None:
    if if_match is None:
        raise ProblemError(428, "precondition-required", "If-Match ヘッダーが必要です",
                           "取得時の ETag を If-Match に指定してください")
    if if_match.strip().strip('"').removeprefix("W/").strip('"') != str(current):
        raise ProblemError(412, "precondition-failed", "データが他の利用者によって更新されています",
                           "最新の内容を取得してからやり直してください")


def register(session: Session, ctx: WebhooksContext, owner: Owner, body: EndpointCreate,
             actor: Actor) -> tuple[Endpoint, str]:
    now = ctx.clock.now()
    endpoint_id = str(uuid.uuid4())
    secret = new_secret()
    e = Endpoint(id=endpoint_id, tenant_id=owner.tenant_id, owner_kind=owner.kind, owner_id=owner.id[:64],
                 url=check_url(ctx, body.url), description=body.description, event_types=body.event_types,
                 jigyosho_ids=None if owner.jigyosho_ids is None else sorted(owner.jigyosho_ids), status="active",
                 secret_sealed=ctx.data_keys.seal(secret.encode(), _aad(endpoint_id)), created_at=now,
                 updated_at=now)
    session.add(e)
    session.flush()
    messaging.record(session, events.endpoint_event(events.ENDPOINT_CREATED, owner.tenant_id, endpoint_id, actor,
                                                    event_types=e.event_types, host=urlsplit(e.url).hostname or "",
                                                    owner_kind=owner.kind))
    return e, secret


def update(session: Session, ctx: WebhooksContext, owner: Owner, endpoint_id: str, body: EndpointUpdate,
           if_match: str | None, actor: Actor) -> Endpoint:
    e = visible_endpoint(session, owner, endpoint_id, lock=True)
    check_version(e.version, if_match)
    now = ctx.clock.now()
    if body.url is not None:
        e.url = check_url(ctx, body.url)
    if body.event_types is not None:
        e.event_types = body.event_types
    if "description" in body.model_fields_set:
        e.description = body.description
    if body.status == "active" and e.status != "active":
        e.status, e.disabled_reason, e.disabled_at = "active", None, None
        ctx.wake.set()
    elif body.status == "disabled" and e.status != "disabled":
        disable(session, e, now, "manual", actor)
    if owner.kind == "partner":
        # A partner's endpoint follows the client's current 事業所 grant.
        e.jigyosho_ids = None if owner.jigyosho_ids is None else sorted(owner.jigyosho_ids)
    e.updated_at = now
    session.flush()
    return e


def disable(session: Session, e: Endpoint, now: datetime, reason: str, actor: Actor,
            delivery: Delivery | None = None) -> None:
    """Stop sending; the notice is roumu.webhooks.endpoint.disabled (and the endpoint's state)."""
    e.status, e.disabled_reason, e.disabled_at = "disabled", reason, now
    e.updated_at = now
    data: dict[str, Any] = {"reason": reason, "host": urlsplit(e.url).hostname or ""}
    if delivery is not None:
        data |= {"delivery_id": delivery.id, "attempts": delivery.attempts,
                 "failing_since": delivery.first_attempt_at.isoformat() if delivery.first_attempt_at else None}
    messaging.record(session, events.endpoint_event(events.ENDPOINT_DISABLED, e.tenant_id, e.id, actor, **data))


MAX_SIGNING_SECRETS = 10  # the current one and those in their overlap; each adds a `v1=` to every delivery


def _in_overlap(e: Endpoint, now: datetime) -> list[tuple[str, datetime]]:
    """(sealed secret, overlap end) of every earlier secret still signing, newest first."""
    out: list[tuple[str, datetime]] = []
    if e.previous_secret_sealed and e.previous_secret_expires_at and e.previous_secret_expires_at > now:
        out.append((e.previous_secret_sealed, e.previous_secret_expires_at))
    for old in e.older_secrets or []:
        until = datetime.fromisoformat(old["expires_at"])
        if until > now:
            out.append((old["sealed"], until))
    return out


def rotate_secret(session: Session, ctx: WebhooksContext, owner: Owner, endpoint_id: str,
                  overlap_hours: float | None, actor: Actor) -> tuple[Endpoint, str]:
    """A new secret signs from now on; the old one also signs (a second `v1=`) for the overlap, and
    secrets of earlier rotations keep signing until their own overlap ends."""
    e = visible_endpoint(session, owner, endpoint_id, lock=True)
    now = ctx.clock.now()
    hours = ctx.settings.secret_overlap_hours if overlap_hours is None else overlap_hours
    earlier = _in_overlap(e, now)
    if hours > 0 and len(earlier) + 2 > MAX_SIGNING_SECRETS:
        raise ProblemError(409, "too-many-secrets", "署名用シークレットの切替が多すぎます",
                           f"重複期間中のシークレットは {MAX_SIGNING_SECRETS} 個までです。"
                           "重複期間 0 で切り替えるか、期間が終わってからやり直してください")
    secret = new_secret()
    if hours > 0:
        e.previous_secret_sealed = e.secret_sealed
        e.previous_secret_expires_at = now + timedelta(hours=hours)
        e.older_secrets = [{"sealed": sealed, "expires_at": until.isoformat()} for sealed, until in earlier] or None
    else:
        # Overlap 0: a compromised secret must stop at once, and so must every earlier one.
        e.previous_secret_sealed, e.previous_secret_expires_at, e.older_secrets = None, None, None
    e.secret_sealed = ctx.data_keys.seal(secret.encode(), _aad(e.id))
    e.updated_at = now
    session.flush()
    messaging.record(session, events.endpoint_event(
        events.ENDPOINT_SECRET_ROTATED, e.tenant_id, e.id, actor,
        overlap_until=e.previous_secret_expires_at.isoformat() if e.previous_secret_expires_at else None))
    return e, secret


def signing_secrets(ctx: WebhooksContext, e: Endpoint, now: datetime) -> list[str]:
    out = [ctx.data_keys.open(e.secret_sealed, _aad(e.id)).decode()]
    out += [ctx.data_keys.open(sealed, _aad(e.id)).decode() for sealed, _ in _in_overlap(e, now)]
    return out


def delete_endpoint(session: Session, owner: Owner, endpoint_id: str) -> None:
    e = visible_endpoint(session, owner, endpoint_id, lock=True)
    session.delete(e)


def list_endpoints(session: Session, owner: Owner, status: str | None, limit: int,
                   offset: int) -> tuple[list[Endpoint], int]:
    conds = _visible(owner)
    if status:
        conds.append(Endpoint.status == status)
    total = session.execute(select(func.count()).select_from(Endpoint).where(*conds)).scalar_one()
    rows = session.execute(select(Endpoint).where(*conds).order_by(Endpoint.created_at, Endpoint.id)
                           .limit(limit).offset(offset)).scalars().all()
    return list(rows), int(total)


def list_deliveries(session: Session, owner: Owner, endpoint_id: str, status: str | None, event_type: str | None,
                    limit: int, offset: int) -> tuple[list[Delivery], int]:
    visible_endpoint(session, owner, endpoint_id)
    conds: list[Any] = [Delivery.endpoint_id == endpoint_id]
    if status:
        conds.append(Delivery.status == status)
    if event_type:
        conds.append(Delivery.event_type == event_type)
    total = session.execute(select(func.count()).select_from(Delivery).where(*conds)).scalar_one()
    rows = session.execute(select(Delivery).where(*conds).order_by(Delivery.seq.desc())
                           .limit(limit).offset(offset)).scalars().all()
    return list(rows), int(total)


def visible_delivery(session: Session, owner: Owner, delivery_id: str) -> Delivery:
    d = session.execute(select(Delivery).where(Delivery.id == delivery_id,
                                               Delivery.tenant_id == owner.tenant_id)).scalar_one_or_none()
    if d is None:
        raise not_found()
    visible_endpoint(session, owner, d.endpoint_id)
    return d


def redeliver(session: Session, ctx: WebhooksContext, owner: Owner, delivery_id: str) -> Delivery:
    """Send again now (a failed one, or a succeeded one the receiver lost), with a fresh retry period.
    The event id stays the same, so a receiver that already has it can drop the copy."""
    d = visible_delivery(session, owner, delivery_id)
    e = visible_endpoint(session, owner, d.endpoint_id)
    if e.status != "active":
        raise ProblemError(409, "endpoint-disabled", "Webhook の送信先が停止しています",
                           "送信先を再開 (status: active) してから再送してください")
    d.status, d.next_attempt_at, d.first_attempt_at, d.delivered_at = "pending", ctx.clock.now(), None, None
    d.last_error = None
    session.flush()
    ctx.wake.set()
    return d


# --- the fan-out (consumer of roumu.koyo_hoken.> and roumu.efiling.>) -----------------------------------

def _links(public: str, subject: dict[str, Any], data: dict[str, Any]) -> dict[str, str]:
    if public == "official_document.received":
        fid = subject["filing_id"]
        return {"filing": f"/api/v1/efiling/filings/{fid}",
                "document": f"/api/v1/efiling/filings/{fid}/documents/{data.get('document_id')}"}
    if public == "correction.requested":
        return {"filing": f"/api/v1/efiling/filings/{subject['filing_id']}"}
    if public == "procedure.completed":
        return {"procedure": f"/api/v1/koyo-hoken/procedures/{subject['procedure_id']}"}
    return {"insured_person": f"/api/v1/koyo-hoken/insured-persons/{subject['insured_person_id']}"}


def payload(event: EventEnvelope, public: str) -> dict[str, Any]:
    """The webhook body: ids and facts only (the internal event carries nothing else), and links to
    what a partner reads next."""
    subject = {k: v for k, v in event.subject.items() if k != "tenant_id"}
    return {"id": event.id, "type": public, "occurred_at": event.occurred_at.isoformat(),
            "tenant_id": event.tenant_id, "subject": subject, "data": dict(event.data),
            "links": _links(public, event.subject, event.data)}


def fan_out(session: Session, event: EventEnvelope, now: datetime) -> int:
    """One delivery per endpoint of the event's tenant that subscribed to its type and may see its
    事業所. Disabled endpoints get theirs too: they go out once the endpoint is active again."""
    mapped = events.PUBLIC_TYPES.get(event.type)
    if mapped is None or not event.tenant_id:
        return 0
    public, key_name = mapped
    jigyosho = event.subject.get("jigyosho_id")
    body = payload(event, public)
    made = 0
    for e in session.execute(select(Endpoint).where(Endpoint.tenant_id == event.tenant_id)).scalars():
        if public not in e.event_types:
            continue
        if e.jigyosho_ids is not None and jigyosho not in e.jigyosho_ids:
            continue
        session.add(Delivery(id=str(uuid.uuid4()), tenant_id=e.tenant_id, endpoint_id=e.id, event_id=event.id,
                             event_type=public, subject_key=str(event.subject.get(key_name, event.id))[:100],
                             payload=body, status="pending", attempts=0, next_attempt_at=now, created_at=now))
        made += 1
    return made
