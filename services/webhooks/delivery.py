"""The delivery worker: sends due deliveries, signed, in order per subject; retries with
exponential backoff; gives up after `retry_for_hours` and disables the endpoint with a notice.

Order: a delivery is due only when no earlier delivery of the same subject (a filing, a procedure,
a person) to the same endpoint is still pending, so a receiver sees a subject's events in the order
they happened even across retries. A failed (given up) delivery no longer holds later ones back.

Crash safety: a claimed delivery's `next_attempt_at` is pushed past the attempt's timeout before
the call (a lease); if the process dies mid-call the delivery is due again after the lease, so
at-least-once — receivers deduplicate on `Roumu-Webhook-Id`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import suppress
from datetime import timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import aliased

from services.webhooks import sender, service
from services.webhooks.context import WebhooksContext
from services.webhooks.models import Attempt, Delivery, Endpoint
from services.webhooks.rules import backoff, destinations, signing
from shared.db import Database
from shared.events import SYSTEM

log = logging.getLogger("roumu.webhooks")
USER_AGENT = "Roumu-Webhooks/1"


def body_bytes(payload: dict[str, object]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def claim_due(db: Database, ctx: WebhooksContext) -> list[str]:
    """Ids of due deliveries, each leased for one attempt."""
    now = ctx.clock.now()
    earlier = aliased(Delivery)
    blocked = exists().where(and_(earlier.endpoint_id == Delivery.endpoint_id,
                                  earlier.subject_key == Delivery.subject_key,
                                  earlier.status == "pending", earlier.seq < Delivery.seq))
    lease = timedelta(seconds=ctx.settings.timeout_seconds * 2 + 30)
    with db.transaction() as session:
        rows = session.execute(
            select(Delivery).join(Endpoint, Endpoint.id == Delivery.endpoint_id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now, Endpoint.status == "active",
                   ~blocked)
            .order_by(Delivery.seq).limit(ctx.settings.worker_batch_size)
            .with_for_update(skip_locked=True, of=Delivery)).scalars().all()
        for d in rows:
            d.next_attempt_at = now + lease
        return [d.id for d in rows]


def attempt(db: Database, ctx: WebhooksContext, delivery_id: str) -> bool:
    """One signed POST of one delivery; records the attempt and the next step. True when delivered."""
    by_id = select(Delivery).where(Delivery.id == delivery_id)
    with db.sessions() as session:
        d = session.execute(by_id).scalar_one_or_none()
        e = session.get(Endpoint, d.endpoint_id) if d else None
        if d is None or e is None or d.status != "pending" or e.status != "active":
            return False
        now = ctx.clock.now()
        secrets = service.signing_secrets(ctx, e, now)
        url, body, event_id, event_type = e.url, body_bytes(d.payload), d.event_id, d.event_type
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        signing.ID_HEADER: event_id, signing.TYPE_HEADER: event_type,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature_header(secrets, timestamp, body),
    }
    started = time.monotonic()
    outcome = sender.post(ctx.http, url, body, headers, ctx.settings.timeout_seconds,
                          destinations.parse_networks(ctx.settings.allowed_networks))
    status, error = outcome.status_code, outcome.error
    duration = int((time.monotonic() - started) * 1000)
    ok = error is None
    with db.transaction() as session:
        d = session.execute(by_id.with_for_update()).scalar_one_or_none()
        if d is None or d.status != "pending":
            return ok
        now = ctx.clock.now()
        d.attempts += 1
        d.first_attempt_at = d.first_attempt_at or now
        d.last_status_code, d.last_error = status, error
        session.add(Attempt(delivery_id=d.id, number=d.attempts, at=now, status_code=status, error=error,
                            duration_ms=duration, manual=False))
        if ok:
            d.status, d.delivered_at, d.next_attempt_at = "succeeded", now, None
        elif backoff.gives_up(d.first_attempt_at, now, timedelta(hours=ctx.settings.retry_for_hours)):
            d.status, d.next_attempt_at = "failed", None
            e = session.get(Endpoint, d.endpoint_id, with_for_update=True)
            if e is not None and e.status == "active":
                service.disable(session, e, now, "persistent_failure", SYSTEM, d)
                log.warning("webhook endpoint disabled after persistent failure",
                            extra={"endpoint_id": e.id, "tenant_id": e.tenant_id})
        else:
            wait = backoff.next_delay(d.attempts, ctx.settings.retry_base_seconds, ctx.settings.retry_max_seconds)
            d.next_attempt_at = now + timedelta(seconds=wait)
    return ok


def run_once(db: Database, ctx: WebhooksContext) -> int:
    """One pass: every due delivery once. Returns how many were attempted."""
    n = 0
    for delivery_id in claim_due(db, ctx):
        attempt(db, ctx, delivery_id)
        n += 1
    return n


async def run(db: Database, ctx: WebhooksContext, stop: asyncio.Event) -> None:
    """The worker loop the app runs in its lifespan."""
    while not stop.is_set():
        ctx.wake.clear()
        try:
            sent = await asyncio.to_thread(run_once, db, ctx)
        except Exception:
            log.exception("webhook delivery pass failed")
            sent = 0
        if sent:
            continue  # more may be due (the next of a subject, a full batch)
        deadline = time.monotonic() + ctx.settings.worker_interval_seconds
        while not stop.is_set() and not ctx.wake.is_set() and time.monotonic() < deadline:
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(0.05, ctx.settings.worker_interval_seconds))
