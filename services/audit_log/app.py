"""App factory of the audit-log service: one durable consumer of every roumu event, applied in
batches, and the periodic jobs: signed checkpoints, retention, verification, metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI

from services.audit_log import metrics, service
from services.audit_log.api import AuditContext, context, router
from services.audit_log.models import messaging, permissions
from services.audit_log.settings import AuditLogSettings
from services.audit_log.signer import CheckpointSigner
from shared.clock import SYSTEM_CLOCK, Clock
from shared.purge import TenantPurge
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "audit_log"
DURABLE = "all"
log = logging.getLogger("roumu.audit_log")

Job = Callable[[Runtime, asyncio.Event], Coroutine[Any, Any, None]]


def create_app(settings: CommonSettings | None = None, background: bool = True, *, clock: Clock | None = None,
               audit_settings: AuditLogSettings | None = None) -> FastAPI:
    """`clock` is for tests (a FrozenClock moved by hand: retention, the log screen's window)."""
    audit = audit_settings or AuditLogSettings()
    # Grants and the tenant purge ride on the one consumer of roumu.>, in stream order: a purge then
    # comes after every entry of the tenant recorded before it, and nothing recorded earlier survives.
    recorder = service.Recorder(clock or SYSTEM_CLOCK, TenantPurge(NAME, messaging))

    def startup(rt: Runtime) -> None:
        service.tune_database(rt.db.engine)
        rt.extras["audit"] = AuditContext(clock=clock or SYSTEM_CLOCK, signer=CheckpointSigner(rt.settings.keys_dir),
                                          settings=audit)
        for consumer in rt.consumers:
            if consumer.durable == f"{NAME}-{DURABLE}":
                # Batch mode (shared.consumer): one transaction per fetch, so inbox claims, chain
                # numbering and hashing are done for hundreds of events at once.
                consumer.batch_handler = recorder.record_batch
                consumer.batch = audit.consumer_batch
                consumer.fetch_process = audit.consumer_fetch_process

    jobs: list[Job] = [
        _every(audit.checkpoint_interval_seconds, _checkpoint_job),
        _every(audit.retention_interval_seconds, _retention_job),
        _every(audit.verify_interval_seconds, _verify_job),
        _metrics_job(audit.metrics_interval_seconds),
    ]
    return create_service_app(NAME, messaging, [router], subscriptions=(Subscription(DURABLE, "roumu.>",
                                                                                     recorder.record),),
                              settings=settings, background=background, permissions=permissions,
                              accounts_feed=False, on_startup=startup, background_tasks=jobs,
                              title="Roumu audit log")


def _checkpoint_job(rt: Runtime) -> None:
    ctx = context(rt)
    with rt.db.transaction() as session:
        service.sign_checkpoints(session, ctx.signer, ctx.clock.now())


def _retention_job(rt: Runtime) -> None:
    ctx = context(rt)
    with rt.db.transaction() as session:
        for p in service.purge_expired(session, ctx.signer, ctx.clock.now()):
            log.info("audit entries purged", extra={"chain_tenant": p.tenant_id, "category": p.category,
                                                    "through_seq": p.through_seq, "entries": p.entries})


def _verify_job(rt: Runtime) -> None:
    ctx = context(rt)
    with rt.db.sessions() as session:
        service.verify_all(session, ctx.signer)
    metrics.VERIFICATION_LAST_RUN.set(time.time())


def _every(seconds: float, job: Callable[[Runtime], None]) -> Job:
    async def run(rt: Runtime, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.to_thread(job, rt)
            except Exception as exc:
                log.warning("audit job failed", extra={"job": job.__name__, "error": repr(exc)[:300]})

    return run


def _metrics_job(seconds: float) -> Job:
    async def run(rt: Runtime, stop: asyncio.Event) -> None:
        last = _entries_total()
        last_at = time.monotonic()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds)
                return
            except TimeoutError:
                pass
            total, now = _entries_total(), time.monotonic()
            metrics.ENTRIES_PER_SECOND.set((total - last) / max(now - last_at, 1e-9))
            last, last_at = total, now
            try:
                await _measure_lag(rt)
            except Exception as exc:
                log.debug("consumer lag not measured", extra={"error": repr(exc)[:300]})

    return run


def _entries_total() -> float:
    return sum(s.value for m in metrics.ENTRIES.collect() for s in m.samples if s.name.endswith("_total"))


async def _measure_lag(rt: Runtime) -> None:
    if rt.nats is None or not rt.nats.is_connected:
        return
    info = await rt.nats.jetstream().consumer_info(rt.settings.nats_stream, f"{NAME}-{DURABLE}")
    metrics.CONSUMER_LAG.set(info.num_pending + info.num_ack_pending)
