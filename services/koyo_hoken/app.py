"""App factory of the koyo_hoken service: `uvicorn --factory services.koyo_hoken.app:create_app`."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from fastapi import FastAPI

from services.koyo_hoken import rejudge, service, tenant_export
from services.koyo_hoken.api import router
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.eligibility_api import router as eligibility_router
from services.koyo_hoken.mappings_api import router as mappings_router
from services.koyo_hoken.models import jigyosho_directory, messaging, permissions
from services.koyo_hoken.settings import KoyoHokenSettings
from services.koyo_hoken.wages_api import router as wages_router
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import DataKeys, load_data_keys
from shared.leader import exclusive
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "koyo_hoken"
log = logging.getLogger("roumu.koyo_hoken")

# The e-filing service's status events about filings (the Idempotency-Key is our procedure id).
SUBSCRIPTIONS = (Subscription("efiling-status", "roumu.efiling.>", service.on_efiling_event),)


def create_app(settings: CommonSettings | None = None, background: bool = True, *, clock: Clock | None = None,
               data_keys: DataKeys | None = None, koyo_settings: KoyoHokenSettings | None = None) -> FastAPI:
    """`clock` and `data_keys` are for tests (a FrozenClock; keys to rotate)."""

    def startup(rt: Runtime) -> None:
        rt.extras["koyo"] = KoyoContext(clock=clock or SYSTEM_CLOCK,
                                        data_keys=data_keys or load_data_keys(rt.settings.keys_dir),
                                        settings=koyo_settings or KoyoHokenSettings())

    return create_service_app(NAME, messaging, [router, wages_router, eligibility_router, mappings_router],
                              subscriptions=SUBSCRIPTIONS, settings=settings,
                              background=background, permissions=permissions, title="Roumu koyo_hoken",
                              on_startup=startup, jigyosho_directory=jigyosho_directory,
                              background_tasks=[_rejudgement_loop], tenant_export=tenant_export.my_numbers)


def _scheduled_once(rt: Runtime) -> int:
    """By one replica at a time (shared/leader.py): two would judge the same tenant at once."""
    with exclusive(rt.db, "koyo-rejudgement") as mine:
        return rejudge.scheduled_pass(rt.db, rt.extras["koyo"]) if mine else 0


async def _rejudgement_loop(rt: Runtime, stop: asyncio.Event) -> None:
    """The scheduled re-judgement on each rule change date (rejudge.scheduled_pass): checked at
    start and then every `rejudgement_check_seconds`."""
    ctx: KoyoContext = rt.extras["koyo"]
    while not stop.is_set():
        try:
            if await asyncio.to_thread(_scheduled_once, rt):
                rt.relay.notify()
        except Exception:
            log.exception("scheduled eligibility re-judgement failed")
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=ctx.settings.rejudgement_check_seconds)
