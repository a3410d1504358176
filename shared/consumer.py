"""Durable JetStream pull consumers with explicit acks and an inbox.

Delivery is at-least-once; the inbox row is written in the same transaction as the effect, so a
consumer that dies after its commit but before its ack skips the redelivered event.

Batch mode (optional, `batch_handler`): a fetched batch is applied in one transaction — the inbox
claims of every event in it, then the handler given the events not handled before, in stream
order — and then each message is acked, with one flush (a round trip) for the batch instead of a
double ack per message. If that transaction fails, the batch is applied
again one message at a time through the single-message path, so one bad event is retried (nak)
alone and the others go through."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy import String, bindparam, func, insert, literal, select, true
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.db import Database, UtcDateTime
from shared.events import EventEnvelope
from shared.fetch_process import FetchProcess, FetchSpec
from shared.nats_client import NatsAccess, connect, durable_config, ensure_stream
from shared.outbox import Messaging

log = logging.getLogger("roumu.consumer")

Handler = Callable[[Session, EventEnvelope], None]
# Given the events of one batch not handled before, in stream order, inside its transaction.
BatchHandler = Callable[[Session, Sequence[EventEnvelope]], None]
# The next fetched batch of a batch-mode consumer, [] when nothing came for a while.
Fetch = Callable[[], Awaitable[list[Msg]]]
# Acks the messages of a batch whose transaction committed.
Ack = Callable[[Sequence[Msg]], Awaitable[None]]
# Batches a consumer with a fetch process lets the server deliver ahead of its acks.
FETCH_AHEAD = 8

HANDLED = Counter("roumu_events_handled_total", "Events applied by a consumer", ["consumer"])
DUPLICATES = Counter("roumu_events_duplicate_total", "Redelivered events skipped by the inbox", ["consumer"])
FAILED = Counter("roumu_events_failed_total", "Event handler failures (redelivered later)", ["consumer"])


class EventConsumer:
    def __init__(
        self,
        durable: str,
        filter_subject: str,
        handler: Handler,
        db: Database,
        messaging: Messaging,
        nats: NatsAccess | str,
        stream: str,
        *,
        ack_wait: float = 30.0,
        max_deliver: int = -1,
        batch: int = 50,
        batch_handler: BatchHandler | None = None,
        fetch_process: bool = False,
        stream_replicas: int = 1,
    ) -> None:
        self.durable = durable
        self.filter_subject = filter_subject
        self.handler = handler
        self.db = db
        self.messaging = messaging
        self.nats = nats if isinstance(nats, NatsAccess) else NatsAccess(nats)
        self.stream = stream
        self.stream_replicas = stream_replicas  # used only when the stream is missing
        self.ack_wait = ack_wait
        self.max_deliver = max_deliver
        self.batch = batch
        self.batch_handler = batch_handler
        # Batch mode only: fetch in a child process (shared/fetch_process.py).
        self.fetch_process = fetch_process
        self.fetch_child: FetchProcess | None = None  # while one runs
        self._nc: NATS | None = None
        self._backoff = 0.5  # before the next attempt after the consumer loop failed

    def apply(self, event: EventEnvelope) -> bool:
        """Apply once: True when the effect ran, False when the inbox had it already."""
        with self.db.transaction() as session:
            if not self.messaging.claim(session, self.durable, event.id):
                return False
            self.handler(session, event)
            return True

    def apply_batch(self, events: Sequence[EventEnvelope]) -> int:
        """Batch mode: claim every event in the inbox and run the batch handler on those not
        handled before, all in one transaction. Answers how many were applied."""
        assert self.batch_handler is not None
        with self.db.transaction() as session:
            fresh_ids = self._claim_many(session, list(dict.fromkeys(e.id for e in events)))
            fresh: list[EventEnvelope] = []
            for e in events:
                if e.id in fresh_ids:
                    fresh_ids.discard(e.id)  # an id twice in one batch: the first one only
                    fresh.append(e)
            if fresh:
                self.batch_handler(session, fresh)
            return len(fresh)

    def _claim_many(self, session: Session, ids: list[str]) -> set[str]:
        """Claim every id in the inbox in one statement; answers the ids claimed now (the others
        were handled before). INSERT … ON CONFLICT DO NOTHING RETURNING on PostgreSQL and SQLite:
        a concurrent claim of the same id waits for the other transaction and then yields to it,
        and no look-up plan depends on the inbox's statistics (a SELECT … IN of hundreds of ids
        scanned the whole inbox on PostgreSQL while autovacuum had not analysed it yet)."""
        if not ids:
            return set()
        inbox = self.messaging.inbox
        now = datetime.now(UTC)
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql" and session.get_bind().dialect.driver == "psycopg":
            # One array parameter rather than a VALUES row per id (psycopg re-parses a long
            # statement on every call), sent in binary (%b): psycopg quotes each element of a
            # text-format array in Python, which cost more than the insert itself.
            sql = (f"INSERT INTO {inbox.name} (consumer, event_id, handled_at) "
                   "SELECT %(consumer)s, unnest(CAST(%(ids)b AS varchar[])), %(now)s "
                   "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id")
            return set(session.connection().exec_driver_sql(
                sql, {"consumer": self.durable, "ids": ids, "now": now}).scalars())
        if dialect == "sqlite":
            # The same shape: the ids as one JSON array, unpacked by json_each ("WHERE true" is
            # SQLite's required disambiguation of an upsert from a SELECT).
            ids_of = func.json_each(bindparam("ids", type_=String)).table_valued("value")
            many = select(literal(self.durable, String), ids_of.c.value, literal(now, UtcDateTime())).where(true())
            stmt = (sqlite_insert(inbox).from_select(["consumer", "event_id", "handled_at"], many)
                    .on_conflict_do_nothing(index_elements=[inbox.c.consumer, inbox.c.event_id])
                    .returning(inbox.c.event_id))
            return set(session.execute(stmt, {"ids": json.dumps(ids)}).scalars())
        rows: list[dict[str, object]] = [{"consumer": self.durable, "event_id": i, "handled_at": now} for i in ids]
        seen = set(session.execute(select(inbox.c.event_id).where(
            inbox.c.consumer == self.durable, inbox.c.event_id.in_(ids))).scalars())
        fresh = [r for r in rows if r["event_id"] not in seen]
        if fresh:
            # A concurrent claim of the same id fails this insert and so the whole batch, which
            # is then retried message by message (process_batch).
            session.execute(insert(inbox), fresh)
        return {str(r["event_id"]) for r in fresh}

    async def process_batch(self, msgs: Sequence[Msg]) -> None:
        """Batch mode: one transaction for the fetched batch, then an ack of each message and a flush."""
        valid = await self._parse(msgs)
        if await self._apply_valid(valid):
            await self._ack_all([m for m, _ in valid])

    async def _parse(self, msgs: Sequence[Msg]) -> list[tuple[Msg, EventEnvelope]]:
        """The envelopes of a fetched batch; a malformed one is terminated (it can never succeed)."""
        valid: list[tuple[Msg, EventEnvelope]] = []
        for msg in msgs:
            try:
                valid.append((msg, EventEnvelope.from_json(msg.data)))
            except ValidationError:
                log.error("malformed event terminated", extra={"consumer": self.durable, "subject": msg.subject})
                await msg.term()
        return valid

    async def _apply_valid(self, valid: Sequence[tuple[Msg, EventEnvelope]]) -> bool:
        """Apply a parsed batch in one transaction. True when it committed (its messages are then
        to be acked); False when there was nothing to do or the batch failed and was applied one
        message at a time instead (each acked or nak'ed on its own)."""
        if not valid:
            return False
        try:
            applied = await asyncio.to_thread(self.apply_batch, [e for _, e in valid])
        except Exception as exc:
            log.warning("event batch failed; applying it one by one",
                        extra={"consumer": self.durable, "error": type(exc).__name__, "size": len(valid)})
            for msg, _ in valid:
                await self.process(msg)
            return False
        HANDLED.labels(self.durable).inc(applied)
        if len(valid) > applied:
            DUPLICATES.labels(self.durable).inc(len(valid) - applied)
        return True

    async def _ack_all(self, msgs: Sequence[Msg]) -> None:
        """Ack each message of a committed batch, then one round trip (flush) so the server holds
        every ack: one wait per batch instead of one per message (ack_sync for each cost more than
        half the throughput). A lost ack only means a redelivery, which the inbox skips."""
        for msg in msgs:
            await msg.ack()
        if self._nc is not None and self._nc.is_connected:
            await self._nc.flush(timeout=5)

    async def process(self, msg: Msg) -> None:
        try:
            event = EventEnvelope.from_json(msg.data)
        except ValidationError:
            # Malformed events can never succeed: stop redelivery, keep a trace in the log.
            log.error("malformed event terminated", extra={"consumer": self.durable, "subject": msg.subject})
            await msg.term()
            return
        try:
            applied = await asyncio.to_thread(self.apply, event)
        except Exception as exc:
            FAILED.labels(self.durable).inc()
            delivered = msg.metadata.num_delivered if msg.metadata else 1
            delay = min(60.0, 0.5 * 2 ** min(delivered, 7))
            log.warning("event handler failed", extra={"consumer": self.durable, "event_id": event.id,
                                                        "error": type(exc).__name__, "retry_in": delay})
            await msg.nak(delay=delay)
            return
        (HANDLED if applied else DUPLICATES).labels(self.durable).inc()
        # The double ack: once confirmed, a lost ack cannot cause a redelivery.
        await msg.ack_sync(timeout=5.0)

    async def _connect(self) -> NATS:
        if self._nc is None or self._nc.is_closed:
            self._nc = await connect(self.nats, f"consumer-{self.durable}")
        return self._nc

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        js = (await self._connect()).jetstream()
        await ensure_stream(js, self.stream, replicas=self.stream_replicas)
        return await js.pull_subscribe(
            self.filter_subject, durable=self.durable, stream=self.stream,
            config=durable_config(self.durable, self.filter_subject, ack_wait=self.ack_wait,
                                  max_deliver=self.max_deliver))

    async def run(self, stop: asyncio.Event) -> None:
        self._backoff = 0.5
        while not stop.is_set():
            try:
                if self.batch_handler is not None and self.fetch_process:
                    await self._run_with_fetch_process(stop)
                    continue
                sub = await self.subscribe()
                self._backoff = 0.5
                if self.batch_handler is not None:
                    await self._run_batches(self._fetcher(sub), stop)
                    continue
                while not stop.is_set():
                    try:
                        msgs = await sub.fetch(self.batch, timeout=1.0)
                    except TimeoutError:  # nats' own TimeoutError subclasses it; both mean "nothing yet"
                        continue
                    for msg in msgs:
                        await self.process(msg)
            except Exception as exc:
                log.warning("consumer loop failed", extra={"consumer": self.durable,
                                                           "error": repr(exc)[:300], "retry_in": self._backoff})
                await self.close()
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._backoff)
                except TimeoutError:
                    pass
                self._backoff = min(5.0, self._backoff * 2)
        await self.close()

    def _fetcher(self, sub: JetStreamContext.PullSubscription) -> Fetch:
        async def fetch() -> list[Msg]:
            try:
                return await sub.fetch(self.batch, timeout=1.0)
            except TimeoutError:  # nats' own TimeoutError subclasses it; both mean "nothing yet"
                return []
        return fetch

    async def _run_with_fetch_process(self, stop: asyncio.Event) -> None:
        """Batch mode with the fetching in a child process (shared/fetch_process.py); this
        process parses, applies and acks on its own connection."""
        nc = await self._connect()
        child = FetchProcess(FetchSpec(
            nats=self.nats, stream=self.stream, durable=self.durable, filter_subject=self.filter_subject,
            batch=self.batch, ack_wait=self.ack_wait, max_deliver=self.max_deliver,
            max_ack_pending=FETCH_AHEAD * self.batch, stream_replicas=self.stream_replicas))
        await child.start()
        self.fetch_child = child

        async def fetch() -> list[Msg]:
            msgs = await child.next_batch(nc)
            self._backoff = 0.5  # the child is subscribed and answering
            return msgs

        try:
            # No fetch ahead: the child's frames queue up meanwhile, and the next batch takes
            # all of them (FetchProcess.next_batch).
            await self._run_batches(fetch, stop, ack=child.ack, prefetch=False)
        finally:
            self.fetch_child = None
            await child.stop()

    async def _run_batches(self, fetch: Fetch, stop: asyncio.Event, ack: Ack | None = None,
                           prefetch: bool = True) -> None:
        """Batch mode, as a pipeline: while one batch is applied (its database work runs in a
        thread), the next one is fetched and parsed and the previous one's acks are sent. Batches
        are still applied one after the other, in stream order, and a batch is acked only after
        its own transaction committed. A prefetched batch dropped at stop is redelivered."""
        ahead: asyncio.Future[list[Msg]] | None = asyncio.ensure_future(fetch()) if prefetch else None
        previous: asyncio.Future[None] | None = None  # set once the batch before has been applied
        running: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                if ahead is None:
                    msgs = await fetch()
                else:
                    msgs = await ahead  # [] when nothing came for a while
                    ahead = asyncio.ensure_future(fetch())
                if not msgs:
                    continue
                valid = await self._parse(msgs)
                applied: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                task = asyncio.create_task(self._pipelined(valid, previous, applied, ack or self._ack_all))
                running.add(task)
                task.add_done_callback(running.discard)
                # At most two batches in flight: this one applying, the one before being acked.
                if previous is not None:
                    await previous
                previous = applied
        finally:
            if ahead is not None:
                if not ahead.done():
                    ahead.cancel()
                with suppress(Exception, asyncio.CancelledError):
                    await ahead
            # Let the batches in flight commit and be acked (or fail and be redelivered).
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _pipelined(self, valid: Sequence[tuple[Msg, EventEnvelope]], previous: asyncio.Future[None] | None,
                         applied: asyncio.Future[None], ack: Ack) -> None:
        try:
            if previous is not None:
                await previous
            committed = await self._apply_valid(valid)
        finally:
            if not applied.done():
                applied.set_result(None)
        if committed:
            try:
                await ack([m for m, _ in valid])
            except Exception as exc:  # e.g. the fetch process died: this task's error would go unseen
                # Unacked messages come again after ack_wait, and the inbox skips them.
                log.warning("acks of a committed batch not sent", extra={
                    "consumer": self.durable, "error": repr(exc)[:300], "size": len(valid)})

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.close()
            except Exception:  # noqa: S110 - the connection is being discarded anyway
                pass

