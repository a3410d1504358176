"""The outbox relay: publishes committed outbox rows to JetStream, in commit order.

`Nats-Msg-Id` is the event id, so a publish retried after a lost ack is dropped by the server's
duplicate window; past that window, consumers' inboxes drop it. On a failed publish the relay
stops the batch (later events of the same aggregate must not overtake) and backs off."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client as NATS
from prometheus_client import Counter, Gauge
from sqlalchemy import Connection, func, select, text, update

from shared.db import Database, is_postgres
from shared.nats_client import NatsAccess, connect, ensure_stream
from shared.outbox import Messaging

log = logging.getLogger("roumu.relay")

PUBLISHED = Counter("roumu_outbox_published_total", "Outbox events published to JetStream", ["service"])
FAILURES = Counter("roumu_outbox_publish_failures_total", "Failed outbox publish attempts", ["service"])
PENDING = Gauge("roumu_outbox_pending", "Outbox events not yet published", ["service"])


class OutboxRelay:
    def __init__(
        self,
        service: str,
        db: Database,
        messaging: Messaging,
        nats: NatsAccess | str,
        stream: str,
        *,
        interval: float = 0.2,
        batch_size: int = 200,
        max_backoff: float = 5.0,
        stream_replicas: int = 1,
    ) -> None:
        self.service = service
        self.db = db
        self.outbox = messaging.outbox
        self.nats = nats
        self.stream = stream
        self.stream_replicas = stream_replicas  # used only when the stream is missing
        self.interval = interval
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self._nc: NATS | None = None
        self._leader_conn: Connection | None = None
        self.wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def notify(self) -> None:
        """Called (from any thread) after a commit that wrote events: publish without waiting."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.wakeup.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        backoff = self.interval
        while not stop.is_set():
            try:
                if await asyncio.to_thread(self._is_leader):
                    sent = await self.publish_pending()
                    backoff = self.interval
                    if sent >= self.batch_size:
                        continue  # more waiting: no sleep
            except Exception as exc:
                FAILURES.labels(self.service).inc()
                log.warning("relay cycle failed", extra={"error": repr(exc)[:300], "retry_in": backoff})
                await self._drop_connection()
                backoff = min(self.max_backoff, backoff * 2)
            await self._sleep(stop, backoff)
        await self._drop_connection()
        await asyncio.to_thread(self._release_leadership)

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        self.wakeup.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wakeup.wait())]
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()

    async def _connection(self) -> NATS:
        if self._nc is None or self._nc.is_closed:
            # No reconnect loop inside the client: a failed cycle backs off and dials again.
            self._nc = await connect(self.nats, f"relay-{self.service}", max_reconnect_attempts=0)
            await ensure_stream(self._nc.jetstream(), self.stream, replicas=self.stream_replicas)
        return self._nc

    async def _drop_connection(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.close()
            except Exception:  # noqa: S110 - closing a broken connection may fail; it is gone either way
                pass

    async def publish_pending(self) -> int:
        rows = await asyncio.to_thread(self._pending)
        PENDING.labels(self.service).set(len(rows))
        if not rows:
            return 0
        js = (await self._connection()).jetstream()
        done: list[int] = []
        try:
            for seq, event_id, subject, payload in rows:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                await js.publish(subject, data, timeout=2.0, stream=self.stream,
                                 headers={"Nats-Msg-Id": event_id})
                done.append(seq)
        except Exception as exc:
            if len(done) < len(rows):
                await asyncio.to_thread(self._record_failure, rows[len(done)][0], repr(exc)[:500])
            raise
        finally:
            if done:
                await asyncio.to_thread(self._mark_published, done)
                PUBLISHED.labels(self.service).inc(len(done))
        return len(done)

    def _reader(self) -> Connection:
        # A read: on SQLite it begins deferred, without the write lock the requests queue on
        # (shared.db); after every write the relay looks here.
        return self.db.engine.execution_options(sqlite_begin="DEFERRED").connect()

    def _pending(self) -> list[tuple[int, str, str, Any]]:
        o = self.outbox
        with self._reader() as conn:
            q = (select(o.c.seq, o.c.event_id, o.c.subject, o.c.payload)
                 .where(o.c.published_at.is_(None)).order_by(o.c.seq).limit(self.batch_size))
            return [tuple(r) for r in conn.execute(q)]

    def _mark_published(self, seqs: list[int]) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(update(self.outbox).where(self.outbox.c.seq.in_(seqs))
                         .values(published_at=datetime.now(UTC)))

    def _record_failure(self, seq: int, error: str) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(update(self.outbox).where(self.outbox.c.seq == seq)
                         .values(attempts=self.outbox.c.attempts + 1, last_error=error))

    def pending_count(self) -> int:
        with self._reader() as conn:
            n = conn.execute(select(func.count()).select_from(self.outbox)
                             .where(self.outbox.c.published_at.is_(None))).scalar_one()
            return int(n)

    # With PostgreSQL, replicas of a service share one outbox: one relay at a time holds a
    # session advisory lock, so commit order is kept. SQLite runs one process per file.
    def _is_leader(self) -> bool:
        if not is_postgres(self.db.engine):
            return True
        if self._leader_conn is not None:
            # A session lock lives exactly as long as its connection: after the server restarted
            # (or the connection was cut) it is gone, and another replica may hold it by now.
            try:
                self._leader_conn.execute(text("SELECT 1")).scalar()
                self._leader_conn.commit()
                return True
            except Exception:
                log.warning("relay lost its leader lock connection", extra={"service": self.service})
                self._release_leadership()
        conn = self.db.engine.connect()
        key = _lock_key(self.service)
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()
        if got:
            self._leader_conn = conn
            return True
        conn.close()
        return False

    def _release_leadership(self) -> None:
        conn, self._leader_conn = self._leader_conn, None
        if conn is not None:
            # Unlocked explicitly first: a dropped connection's lock goes only when its server
            # process has ended, a moment later, and another replica may look before then.
            with suppress(Exception):  # a dead connection holds no lock any more
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(self.service)})
                conn.commit()
            # Closing a pooled connection only returns it to the pool, lock and all: the DBAPI
            # connection itself is dropped, which releases the session lock with it.
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: S110 - a dead connection may fail to close; it is gone either way
                pass


def _lock_key(service: str) -> int:
    # A stable 63-bit key per service name (hash() is salted per process).
    import hashlib

    return int.from_bytes(hashlib.sha256(f"roumu-relay:{service}".encode()).digest()[:8], "big") >> 1
