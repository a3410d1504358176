"""Refusals the gateway makes on its own (rate, address, certificate, size, media type), and their
audit events.

Each refusal answers problem+json with a Japanese title and is published as
`roumu.gateway.request.refused` straight to JetStream: the gateway has no database, so no outbox.
Publishing is best-effort and never blocks a request: events wait in a bounded in-memory queue
that one background task drains; when NATS is down and the queue is full, new events are dropped
and counted (`roumu_gateway_refusal_events_dropped_total`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from nats.aio.client import Client as NATS
from prometheus_client import Counter

from shared.errors import ProblemError
from shared.events import Actor, EventEnvelope
from shared.nats_client import NatsAccess, connect, ensure_stream

log = logging.getLogger("roumu.gateway")

REFUSED_EVENT = "roumu.gateway.request.refused"
TENANT_SETTINGS_CHANGED = "roumu.accounts.tenant.settings_changed"

# Called with the NATS client once connected (the tenant cache subscribes to invalidations).
Subscriber = Callable[[NATS], Awaitable[None]]
Reason = Literal["rate_limited", "ip_not_allowed", "certificate", "too_large", "unsupported_media_type"]

REFUSALS = Counter("roumu_gateway_refusals_total", "Requests the gateway refused itself", ["reason"])
DROPPED = Counter("roumu_gateway_refusal_events_dropped_total",
                  "Refusal events not published (queue full while NATS was unreachable)")
PUBLISHED = Counter("roumu_gateway_refusal_events_published_total", "Refusal events published")


class Refused(ProblemError):
    """A ProblemError the gateway publishes as an audit event."""

    def __init__(self, status: int, slug: str, title: str, detail: str | None = None, *, reason: Reason,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, slug, title, detail, headers=headers)
        self.reason: Reason = reason


def too_large(limit: int) -> Refused:
    return Refused(413, "payload-too-large", "リクエストが大きすぎます",
                   f"この経路で受け付ける本文は {limit} バイトまでです", reason="too_large")


def unsupported_media_type(detail: str) -> Refused:
    return Refused(415, "unsupported-media-type", "対応していないデータ形式です", detail,
                   reason="unsupported_media_type")


def ip_not_allowed(detail: str) -> Refused:
    return Refused(403, "ip-not-allowed", "この接続元 IP アドレスからは利用できません", detail,
                   reason="ip_not_allowed")


def certificate_refused(detail: str) -> Refused:
    return Refused(403, "certificate-required", "有効な端末証明書が必要です", detail, reason="certificate")


class RefusalEvents:
    """A bounded queue of refusal events and the task that publishes them."""

    def __init__(self, nats: NatsAccess | str, stream: str, queue_size: int, enabled: bool = True,
                 stream_replicas: int = 1) -> None:
        self.nats = nats
        self.stream = stream
        self.stream_replicas = stream_replicas  # a stream the gateway has to create is created as every process would
        self.enabled = enabled
        self.queue: asyncio.Queue[EventEnvelope] = asyncio.Queue(maxsize=max(1, queue_size))
        self.nc: NATS | None = None
        self.task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.on_connect: list[Subscriber] = []

    def publish(self, exc: Refused, route: str, tenant_id: str | None, actor: Actor, request_id: str | None) -> None:
        REFUSALS.labels(exc.reason).inc()
        if not self.enabled:
            return
        event = EventEnvelope(
            type=REFUSED_EVENT, tenant_id=tenant_id, actor=actor,
            subject={"request_id": request_id or "unknown"}, trace_id=request_id,
            data={"reason": exc.reason, "route": route, "status": exc.status},
        )
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            DROPPED.inc()

    def start(self) -> None:
        if self.enabled and self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="gateway-refusal-events")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
            self.nc = None

    async def _connect(self) -> NATS:
        wait = 0.5
        while True:
            try:
                nc = await connect(self.nats, "gateway", max_reconnect_attempts=-1)
                await ensure_stream(nc.jetstream(), self.stream, replicas=self.stream_replicas)
                return nc
            except Exception as exc:  # NATS down at start: keep trying, events wait in the queue
                log.warning("nats unavailable for refusal events", extra={"error": type(exc).__name__})
                await asyncio.sleep(wait)
                wait = min(wait * 2, 10.0)

    async def _run(self) -> None:
        self.nc = await self._connect()
        for subscriber in self.on_connect:
            await subscriber(self.nc)
        self.connected.set()
        js = self.nc.jetstream()
        while True:
            event = await self.queue.get()
            while True:
                try:
                    await js.publish(event.type, event.to_json(), stream=self.stream,
                                     headers={"Nats-Msg-Id": event.id}, timeout=2.0)
                    PUBLISHED.inc()
                    break
                except Exception as exc:
                    # Disconnected: the client reconnects by itself; the same id dedups a retry.
                    log.warning("refusal event not published yet", extra={"error": type(exc).__name__})
                    if self.queue.full():
                        DROPPED.inc()
                        break
                    await asyncio.sleep(1.0)
