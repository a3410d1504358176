"""App factory of the jimukumiai service: `uvicorn --factory services.jimukumiai.app:create_app`."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.jimukumiai import filing_book, retention, service
from services.jimukumiai.api import router
from services.jimukumiai.books_api import router as books_router
from services.jimukumiai.calculator_api import router as calculator_router
from services.jimukumiai.koyo_wages import KoyoHokenWages
from services.jimukumiai.models import jigyosho_directory, messaging, permissions
from services.jimukumiai.renewal_api import router as renewal_router
from services.jimukumiai.settings import get_jimukumiai_settings
from services.jimukumiai.wages_api import router as wages_router
from shared.clock import SYSTEM_CLOCK, Clock
from shared.service_app import Runtime, Subscription, accounts_feed_handler, create_service_app
from shared.settings import CommonSettings

NAME = "jimukumiai"
log = logging.getLogger("roumu.jimukumiai")


def subscriptions() -> list[Subscription]:
    """The 処理簿's two feeds, and the accounts feed (grants, the 事業所 master, tenant purge) of
    every service, here with a tenant purge that holds a permit for the append-only ledger
    (retention.py)."""
    feed = accounts_feed_handler(permissions, retention.PermittedTenantPurge(NAME, messaging), jigyosho_directory)
    assert feed is not None
    return [Subscription("koyo-hoken-procedures", filing_book.PROCEDURE_EVENTS, filing_book.on_procedure_event),
            Subscription("efiling-filings", filing_book.FILING_EVENTS, filing_book.on_filing_event),
            Subscription("accounts-feed", "roumu.accounts.>", feed)]


def retention_job(rt: Runtime) -> None:
    clock: Clock = rt.extras.get("clock", SYSTEM_CLOCK)
    retention.purge_expired(rt.transaction, service.today(clock))


async def _retention_loop(rt: Runtime, stop: asyncio.Event) -> None:
    seconds = get_jimukumiai_settings().retention_interval_seconds
    while seconds > 0 and not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
            return
        except TimeoutError:
            pass
        try:
            await asyncio.to_thread(retention_job, rt)
        except Exception as exc:
            log.warning("retention job failed", extra={"error": repr(exc)[:300]})


def create_app(settings: CommonSettings | None = None, background: bool = True, clock: Clock | None = None,
               koyo_wages: KoyoHokenWages | None = None) -> FastAPI:
    """`clock`: the time source of today's date (limits, deadlines, retention); tests pass a FrozenClock.
    `koyo_wages`: the client of koyo_hoken's wage estimate (default: over HTTP at its service URL)."""

    def startup(rt: Runtime) -> None:
        rt.extras["clock"] = clock or SYSTEM_CLOCK
        rt.extras["koyo_wages"] = koyo_wages or KoyoHokenWages(rt.settings.service_url("koyo_hoken"),
                                                               rt.settings.keys_dir)

    return create_service_app(NAME, messaging, [router, calculator_router, renewal_router, books_router, wages_router],
                              subscriptions=subscriptions(), settings=settings, background=background,
                              permissions=permissions, accounts_feed=False, title="Roumu jimukumiai",
                              jigyosho_directory=jigyosho_directory,
                              on_startup=startup, background_tasks=[_retention_loop])
