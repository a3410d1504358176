"""App factory of the efiling service: `uvicorn --factory services.efiling.app:create_app`.

The lifespan runs, beside the relay, the tracking / reconciliation worker (services/efiling/
worker.py) unless ROUMU_EFILING_WORKER_ENABLED=false."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.efiling import context, packages, tenant_export
from services.efiling.api import router
from services.efiling.api_certificates import router as certificates_router
from services.efiling.documents import DocumentStore
from services.efiling.models import messaging, permissions
from services.efiling.settings import EfilingSettings
from services.efiling.worker import Worker
from shared.clock import Clock
from shared.service_app import Runtime, create_service_app
from shared.settings import CommonSettings

NAME = "efiling"
log = logging.getLogger("roumu.efiling")


async def run_worker(rt: Runtime, stop: asyncio.Event) -> None:
    ctx = context.of(rt)
    try:
        if ctx.egov.settings.worker_enabled:
            ctx.worker = Worker(rt.db, ctx.egov, ctx.store, ctx.halt)
            await ctx.worker.run(stop)
        else:
            await stop.wait()
    finally:
        ctx.halt.set()
        ctx.egov.http.close()
        close = getattr(ctx.store, "close", None)
        if close is not None:
            close()


def create_app(settings: CommonSettings | None = None, background: bool = True,
               efiling_settings: EfilingSettings | None = None, clock: Clock | None = None,
               store: DocumentStore | None = None) -> FastAPI:
    """`efiling_settings`, `clock` and `store` are for tests (the sandbox's URLs, a FrozenClock)."""

    def startup(rt: Runtime) -> None:
        rt.extras["efiling"] = context.build(rt, efiling_settings, clock, store)
        # Packages stored in clear before sealing (migration 0006) are sealed before any request.
        sealed = packages.seal_legacy(rt.db, context.of(rt).egov.keys)
        if sealed:
            log.info("sealed %d e-filing packages stored in clear", sealed)

    return create_service_app(NAME, messaging, [router, certificates_router], settings=settings, background=background,
                              permissions=permissions, title="Roumu efiling", on_startup=startup,
                              background_tasks=[run_worker], tenant_export=tenant_export.sent_packages)
