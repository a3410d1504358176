"""Revoked sessions, so a logged-out access token stops working in every service, not only auth.

Access tokens are verified offline and live ACCESS_TOKEN_MAX_TTL_S at most, so a revoked session
id only needs remembering that long. Each process keeps them in memory, fed by a
JetStream push consumer (no acks) of `roumu.auth.session.revoked` that starts that far back in the stream: a
restarted process replays exactly the revocations still relevant. No table, no migration.
Until the first replay has caught up, `ready` is False."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from pydantic import ValidationError

from shared.events import EventEnvelope
from shared.nats_client import NatsAccess, connect, ensure_stream

log = logging.getLogger("roumu.revocation")

SESSION_REVOKED = "roumu.auth.session.revoked"
# Longer than any access token lives (auth issues 15 minutes), with margin for clock skew.
ACCESS_TOKEN_MAX_TTL_S = 20 * 60


class RevokedSessions:
    def __init__(self, nats: NatsAccess | str, stream: str, window_s: float = ACCESS_TOKEN_MAX_TTL_S,
                 stream_replicas: int = 1) -> None:
        self.nats = nats
        self.stream = stream
        self.stream_replicas = stream_replicas  # used only when the stream is missing
        self.window_s = window_s
        self._until: dict[str, float] = {}  # sid → monotonic time after which no token can carry it
        self.ready = False

    def is_revoked(self, sid: str) -> bool:
        until = self._until.get(sid)
        if until is None:
            return False
        if until < time.monotonic():
            del self._until[sid]
            return False
        return True

    def add(self, sid: str) -> None:
        self._until[sid] = time.monotonic() + self.window_s

    def _on_event(self, raw: bytes) -> None:
        try:
            event = EventEnvelope.from_json(raw)
        except ValidationError:
            return
        sid = event.subject.get("session_id")
        if sid:
            self.add(sid)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            nc = None
            try:
                nc = await connect(self.nats, "revocations", max_reconnect_attempts=0)
                js = nc.jetstream()
                await ensure_stream(js, self.stream, replicas=self.stream_replicas)
                start = datetime.now(UTC) - timedelta(seconds=self.window_s)

                async def on_msg(msg: Msg) -> None:
                    self._on_event(msg.data)

                # A push consumer of this connection's own, named here so the create request
                # carries its filter (the NATS user may create only consumers of revocations),
                # acks none, removed by the server once this connection is gone.
                sub = await js.subscribe(
                    SESSION_REVOKED, stream=self.stream, cb=on_msg, manual_ack=True,
                    config=ConsumerConfig(name=f"revocations-{secrets.token_hex(8)}",
                                          deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start,
                                          ack_policy=AckPolicy.NONE, inactive_threshold=30.0, mem_storage=True,
                                          num_replicas=1),
                )
                await self._caught_up(sub)
                while not stop.is_set() and nc.is_connected:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
                await sub.unsubscribe()
            except Exception as exc:
                log.warning("revocation feed failed", extra={"error": repr(exc)[:300]})
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
            finally:
                if nc is not None and not nc.is_closed:
                    with suppress(Exception):
                        await nc.close()

    async def _caught_up(self, sub: JetStreamContext.PushSubscription) -> None:
        """Ready once the replay has nothing pending (later revocations arrive as published)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            info = await sub.consumer_info()
            if info.num_pending == 0 and sub.pending_msgs == 0:
                break
            await asyncio.sleep(0.05)
        self.ready = True
