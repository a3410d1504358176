"""Waiting for a service's durable consumer to work through the session's stream."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared.nats_auth import ADMIN
from shared.nats_client import connect


def wait_caught_up(settings: Any, durable: str, stall: float = 30.0) -> None:
    """Wait until `durable` has worked through everything in the stream. The tests share one stream
    for the session, so a service's durable consumer starts with the backlog every earlier test
    published (thousands of koyo_hoken events in a full run); the bound is on progress, not on time."""

    async def pending() -> int:
        nc = await connect(settings.nats_access(ADMIN), "tests-consumer-inspect", max_reconnect_attempts=0)
        try:
            info = await nc.jetstream().consumer_info(settings.nats_stream, durable)
            return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        finally:
            await nc.close()

    left, last_move = asyncio.run(pending()), time.monotonic()
    while left:
        time.sleep(0.1)
        now_left = asyncio.run(pending())
        if now_left < left:
            last_move = time.monotonic()
        assert time.monotonic() - last_move < stall, f"{durable} made no progress for {stall} s ({now_left} left)"
        left = now_left
