"""App factory of the webhooks service: `uvicorn --factory services.webhooks.app:create_app`.

Consumes roumu.koyo_hoken.> and roumu.efiling.> (durable consumers with the inbox), turns the
events partners subscribe to into deliveries, and runs the delivery worker in its lifespan."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session

from services.webhooks import context, delivery, service
from services.webhooks.api import router
from services.webhooks.models import messaging, permissions
from services.webhooks.settings import WebhooksSettings
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import DataKeys, load_data_keys
from shared.events import EventEnvelope
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "webhooks"


def create_app(settings: CommonSettings | None = None, background: bool = True, *,
               webhooks_settings: WebhooksSettings | None = None, clock: Clock | None = None,
               data_keys: DataKeys | None = None) -> FastAPI:
    """`webhooks_settings`, `clock` and `data_keys` are for tests (short retries, a FrozenClock)."""
    holder: dict[str, context.WebhooksContext] = {}

    def on_event(session: Session, event: EventEnvelope) -> None:
        ctx = holder["ctx"]
        if service.fan_out(session, event, ctx.clock.now()):
            # Woken after this transaction commits is not possible from here; the flag makes the
            # worker look at once, and it finds the rows once the consumer has committed.
            ctx.wake.set()

    def startup(rt: Runtime) -> None:
        cfg = webhooks_settings or WebhooksSettings()
        holder["ctx"] = rt.extras["webhooks"] = context.WebhooksContext(
            settings=cfg, data_keys=data_keys or load_data_keys(rt.settings.keys_dir), clock=clock or SYSTEM_CLOCK,
            http=httpx.Client(timeout=cfg.timeout_seconds, follow_redirects=False, trust_env=False))

    async def worker(rt: Runtime, stop: asyncio.Event) -> None:
        ctx = context.of(rt)
        try:
            if ctx.settings.worker_enabled:
                await delivery.run(rt.db, ctx, stop)
            else:
                await stop.wait()
        finally:
            ctx.http.close()

    subscriptions = (Subscription("koyo-hoken-events", "roumu.koyo_hoken.>", on_event),
                     Subscription("efiling-events", "roumu.efiling.>", on_event))
    return create_service_app(NAME, messaging, [router], subscriptions=subscriptions, settings=settings,
                              background=background, permissions=permissions, title="Roumu webhooks",
                              on_startup=startup, background_tasks=[worker])
