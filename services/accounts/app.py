"""App factory of the accounts service: `uvicorn --factory services.accounts.app:create_app`."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.accounts import api, events, service
from services.accounts.models import PURGE_KEEP, messaging, permissions
from services.accounts.settings import AccountsSettings
from shared.clock import SYSTEM_CLOCK, Clock
from shared.keys import ensure_key
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "accounts"
log = logging.getLogger("roumu.accounts.scheduler")

SUBSCRIPTIONS = (Subscription("tenant-purged", "roumu.*.tenant.purged", service.on_tenant_purged),)
assert all(t.endswith(".tenant.purged") for t in events.TENANT_PURGED.values())


async def scheduler(rt: Runtime, stop: asyncio.Event) -> None:
    """Runs the contract-end steps when due (they are idempotent: a step runs once per tenant)."""
    cfg: AccountsSettings = rt.extras["accounts_settings"]
    while not stop.is_set():
        try:
            ran = await asyncio.to_thread(api.run_jobs, rt)
            for job in ran:
                log.info("contract-end step", extra=job)
        except Exception as exc:
            log.warning("contract-end scheduler failed", extra={"error": repr(exc)[:300]})
        try:
            await asyncio.wait_for(stop.wait(), timeout=cfg.scheduler_interval_seconds)
        except TimeoutError:
            pass


def create_app(settings: CommonSettings | None = None, background: bool = True, *, clock: Clock | None = None,
               accounts_settings: AccountsSettings | None = None) -> FastAPI:
    """`clock` is for tests (a FrozenClock moved by hand)."""
    cfg = accounts_settings or AccountsSettings()

    def startup(rt: Runtime) -> None:
        rt.extras["clock"] = clock or SYSTEM_CLOCK
        rt.extras["accounts_settings"] = cfg
        ensure_key(rt.settings.keys_dir, "certificate")  # published at /certificate-keys from the start

    return create_service_app(NAME, messaging, [api.router, api.operations], subscriptions=SUBSCRIPTIONS,
                              settings=settings, background=background, title="Roumu accounts",
                              on_startup=startup, permissions=permissions, purge_keep=PURGE_KEEP,
                              background_tasks=(scheduler,))
