"""App factory of the accounts service: `uvicorn --factory services.accounts.app:create_app`."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from fastapi import FastAPI

from services.accounts import api, events, mail, service
from services.accounts.deadlines import KoyoDeadlines
from services.accounts.models import PURGE_KEEP, messaging, permissions
from services.accounts.settings import AccountsSettings
from shared.clock import JST, SYSTEM_CLOCK, Clock
from shared.keys import ensure_key
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings
from shared.tombstones import Ledger, tombstone_path

NAME = "accounts"
log = logging.getLogger("roumu.accounts.scheduler")

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


async def mail_worker(rt: Runtime, stop: asyncio.Event) -> None:
    """Sends the due mails of the delivery log (services/accounts/mail.py)."""
    cfg: AccountsSettings = rt.extras["accounts_settings"]
    koyo: KoyoDeadlines = rt.extras.get("deadlines") or KoyoDeadlines(rt.settings.service_url("koyo_hoken"),
                                                                       rt.settings.keys_dir)
    digest_done: date | None = None  # the Japan day this process last completed the digest for
    try:
        while not stop.is_set():
            try:
                clock: Clock = rt.extras["clock"]
                today = clock.now().astimezone(JST).date()
                if cfg.mail_smtp_host and digest_done != today:
                    queued, complete = await asyncio.to_thread(mail.queue_digests, rt.transaction, cfg, koyo,
                                                               clock.now())
                    if complete:
                        digest_done = today
                    if queued:
                        mail.log.info("deadline digests queued", extra={"mails": queued})
                sent = await asyncio.to_thread(mail.send_due, rt.transaction, cfg, clock.now())
                if sent:
                    mail.log.info("mail pass", extra=sent)
            except Exception as exc:
                mail.log.warning("mail worker failed", extra={"error": repr(exc)[:300]})
            try:
                await asyncio.wait_for(stop.wait(), timeout=cfg.mail_worker_interval_seconds)
            except TimeoutError:
                pass
    finally:
        koyo.close()


def create_app(settings: CommonSettings | None = None, background: bool = True, *, clock: Clock | None = None,
               accounts_settings: AccountsSettings | None = None, deadlines: KoyoDeadlines | None = None) -> FastAPI:
    """`clock` is for tests (a FrozenClock moved by hand); `deadlines` too (a koyo_hoken client on a
    test app)."""
    cfg = accounts_settings or AccountsSettings()
    holder: dict[str, Ledger] = {}

    def startup(rt: Runtime) -> None:
        rt.extras["clock"] = clock or SYSTEM_CLOCK
        rt.extras["accounts_settings"] = cfg
        if deadlines is not None:
            rt.extras["deadlines"] = deadlines
        holder["ledger"] = rt.extras["ledger"] = Ledger(tombstone_path(rt.settings))
        ensure_key(rt.settings.keys_dir, "certificate")  # published at /certificate-keys from the start

    subscriptions = (
        Subscription("tenant-purged", "roumu.*.tenant.purged",
                     lambda s, e: service.on_tenant_purged(s, e, holder.get("ledger"))),
        Subscription("notice-mail", events.NOTICE_PUBLISHED, mail.notice_handler(cfg, clock or SYSTEM_CLOCK)),
        Subscription("efiling-mail", "roumu.efiling.filing.>", mail.efiling_handler(cfg, clock or SYSTEM_CLOCK)),
    )
    return create_service_app(NAME, messaging, [api.router, api.operations], subscriptions=subscriptions,
                              settings=settings, background=background, title="Roumu accounts",
                              on_startup=startup, permissions=permissions, purge_keep=PURGE_KEEP,
                              background_tasks=(scheduler, mail_worker))
