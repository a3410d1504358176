"""The efiling app's background worker: tracking and the reconciliation of lost submissions.

Each pass (every `ROUMU_EFILING_WORKER_INTERVAL_SECONDS`, in a thread, since the e-Gov client
and the database are synchronous):

1. single filings whose outcome is `unknown` and whose retry time (`next_poll_at`, set with
   backoff when the outcome was lost) has come, and `submitting` rows older than
   `ROUMU_EFILING_STALE_SEND_SECONDS` (a crashed send), go through `submission.submit` for one
   round: /apply/lists first, adopted when found, sent again only when it did not arrive;
2. bulk sends without an answer are reconciled by their 送信番号; answered ones whose report was
   not ready yet are mapped again;
3. `tracking.track_once`: due cases read (503 = maintenance defers them), 公文書 fetched.

Time comes from the Egov's clock (injectable: tests use a FrozenClock). Stopping sets a
threading.Event the pass checks between cases, and the client's backoff sleeps wait on it, so
shutdown is not held up by a long maintenance backoff."""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from services.efiling import submission, tracking
from services.efiling.documents import DocumentStore
from services.efiling.egov_accounts import Egov
from services.efiling.models import BulkSend, Submission
from services.efiling.rules.status import State
from shared.db import Database
from shared.errors import ProblemError
from shared.leader import exclusive

log = logging.getLogger("roumu.efiling.worker")


@dataclass
class PassResult:
    reconciled: int = 0
    bulk: int = 0
    tracked: int = 0


@dataclass
class Worker:
    db: Database
    egov: Egov
    store: DocumentStore
    halt: threading.Event = field(default_factory=threading.Event)
    passes: int = 0
    errors: int = 0
    last: PassResult = field(default_factory=PassResult)
    wake_event: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Start the next pass now (from any thread): a route that just sent something."""
        if self.loop is not None and self.wake_event is not None:
            self.loop.call_soon_threadsafe(self.wake_event.set)

    def lost_sends(self) -> list[str]:
        now = self.egov.clock.now()
        stale = now - timedelta(seconds=self.egov.settings.stale_send_seconds)
        with self.db.sessions() as session:
            unknown = session.execute(select(Submission.filing_id).where(
                Submission.state == State.UNKNOWN.value, Submission.bulk_send_id.is_(None),
                (Submission.next_poll_at.is_(None)) | (Submission.next_poll_at <= now))).scalars().all()
            crashed = session.execute(select(Submission.filing_id).where(
                Submission.state == State.SUBMITTING.value, Submission.bulk_send_id.is_(None),
                Submission.send_started_at < stale)).scalars().all()
        return [*unknown, *crashed]

    def open_bulk_sends(self) -> list[tuple[str, str]]:
        stale = self.egov.clock.now() - timedelta(seconds=self.egov.settings.stale_send_seconds)
        with self.db.sessions() as session:
            rows = session.execute(select(BulkSend).where(BulkSend.state.in_(["unknown", "sending", "sent"]))).scalars()
            return [(b.id, b.state) for b in rows if b.state != "sending" or b.started_at < stale]

    def run_once(self) -> PassResult:
        """One pass, by one replica at a time (shared/leader.py: two would ask e-Gov about the same
        cases and fetch the same 公文書); every step is independent, a failure of one filing never
        stops the rest."""
        with exclusive(self.db, "efiling-worker") as mine:
            return self._pass() if mine else PassResult()

    def _pass(self) -> PassResult:
        result = PassResult()
        for fid in self.lost_sends():
            if self.halt.is_set():
                return result
            try:
                submission.submit(self.db, self.egov, fid, max_rounds=1)
                result.reconciled += 1
            except ProblemError as exc:  # e.g. the account's single in-flight slot is taken
                log.info("reconciliation of %s deferred: %s", fid, exc.title)
            except Exception:
                self.errors += 1
                log.exception("reconciliation of %s failed", fid)
        for send_id, state in self.open_bulk_sends():
            if self.halt.is_set():
                return result
            try:
                with self.db.sessions() as session:
                    bulk = session.get(BulkSend, send_id)
                    assert bulk is not None
                    account_id = bulk.egov_account_id
                client = self.egov.client(self.db, account_id)
                if state == "sent":
                    submission.map_bulk(self.db, self.egov, client, send_id)
                else:
                    submission.reconcile_bulk(self.db, self.egov, client, send_id)
                result.bulk += 1
            except Exception:
                self.errors += 1
                log.exception("bulk send %s: reconciliation failed", send_id)
        try:
            result.tracked = tracking.track_once(self.db, self.egov, self.store, stop=self.halt)
        except Exception:
            self.errors += 1
            log.exception("tracking pass failed")
        return result

    async def run(self, stop: asyncio.Event) -> None:
        """Passes until `stop`; a pass in progress is asked to end (halt) and awaited."""
        self.wake_event = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        interval = self.egov.settings.worker_interval_seconds
        while not stop.is_set():
            work = asyncio.ensure_future(asyncio.to_thread(self.run_once))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                self.halt.set()
            try:
                self.last = await work
            except Exception:
                self.errors += 1
                log.exception("worker pass failed")
            self.passes += 1
            if stop.is_set():
                stopping.cancel()
                break
            self.wake_event.clear()
            waker = asyncio.ensure_future(self.wake_event.wait())
            await asyncio.wait({stopping, waker}, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            for t in (stopping, waker):
                if not t.done():
                    t.cancel()
                    with suppress(asyncio.CancelledError):
                        await t
        self.halt.set()
