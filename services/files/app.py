"""App factory of the files service: `uvicorn --factory services.files.app:create_app`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from fastapi import FastAPI

from services.files import references, service, tenant_export
from services.files.api import router
from services.files.context import FilesContext, build_scanner, build_store
from services.files.models import jigyosho_directory, messaging, permissions
from services.files.official import router as official_router
from services.files.scanner import Scanner
from services.files.settings import FilesSettings
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import DataKeys, load_data_keys
from shared.db import Database
from shared.leader import exclusive
from shared.purge import TenantPurge
from shared.service_app import Runtime, Subscription, accounts_feed_handler, create_service_app
from shared.settings import CommonSettings

NAME = "files"
log = logging.getLogger("roumu.files")


def create_app(settings: CommonSettings | None = None, background: bool = True, *,
               files_settings: FilesSettings | None = None, clock: Clock | None = None,
               data_keys: DataKeys | None = None, scanner: Scanner | None = None) -> FastAPI:
    """`clock`, `data_keys` and `scanner` are for tests (a FrozenClock; keys to rotate; a scanner)."""
    holder: dict[str, FilesContext] = {}

    def startup(rt: Runtime) -> None:
        fs = files_settings or FilesSettings()
        store, tmp = build_store(rt.settings, fs)
        holder["ctx"] = rt.extras["files"] = FilesContext(
            settings=fs, store=store, tmp_dir=tmp, scanner=scanner or build_scanner(fs),
            data_keys=data_keys or load_data_keys(rt.settings.keys_dir), clock=clock or SYSTEM_CLOCK)

    # The accounts feed (grants; the 事業所 master; the generic purge of the tenant's rows, its
    # tenant key included), plus the tenant's stored objects on a purge request.
    feed = accounts_feed_handler(permissions, TenantPurge(NAME, messaging), jigyosho_directory)
    subscriptions = [Subscription("accounts-feed", "roumu.accounts.>",
                                  service.purge_handler(feed, lambda: holder.get("ctx"))),
                     # The procedures and filings files may be attached to (services/files/references.py).
                     Subscription("procedure-refs", references.PROCEDURE_CREATED, references.on_event),
                     Subscription("filing-refs", references.FILING_DRAFTED, references.on_event)]
    return create_service_app(NAME, messaging, [router, official_router], settings=settings, background=background,
                              permissions=permissions, title="Roumu files", on_startup=startup,
                              subscriptions=subscriptions, accounts_feed=False, jigyosho_directory=jigyosho_directory,
                              background_tasks=[_rescan_loop, _retention_loop],
                              tenant_export=tenant_export.originals)


async def _every(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until stop; True when it is time to work."""
    with suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return not stop.is_set()


def _once(rt: Runtime, name: str, job: Callable[[Database, FilesContext], int], ctx: FilesContext) -> int:
    """A sweep by one replica at a time (shared/leader.py): two would scan the same quarantined file,
    or delete the same expired one, and announce it twice."""
    with exclusive(rt.db, name) as mine:
        return job(rt.db, ctx) if mine else 0


async def _rescan_loop(rt: Runtime, stop: asyncio.Event) -> None:
    """Quarantined files (clamd was unreachable at upload) are scanned again."""
    ctx: FilesContext = rt.extras["files"]
    while await _every(stop, ctx.settings.rescan_interval_seconds):
        try:
            if await asyncio.to_thread(_once, rt, "files-rescan", service.rescan_quarantined, ctx):
                rt.relay.notify()
        except Exception:
            log.exception("rescan failed")


async def _retention_loop(rt: Runtime, stop: asyncio.Event) -> None:
    ctx: FilesContext = rt.extras["files"]
    while await _every(stop, ctx.settings.retention_interval_seconds):
        try:
            if await asyncio.to_thread(_once, rt, "files-retention", service.expire_retention, ctx):
                rt.relay.notify()
        except Exception:
            log.exception("retention sweep failed")
