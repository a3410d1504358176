"""Waiting for a service's durable consumer to work through the session's stream."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import create_engine, text

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


def wait_published(settings: Any, service: str, aggregate_id: str, stall: float = 30.0) -> None:
    """Wait until the relay of `service` has published every outbox row of `aggregate_id`. The
    session's database is shared too: rows earlier tests left unpublished (apps run without their
    relay) go out first, in order; the bound is on the relay's progress, not on time."""
    engine = create_engine(settings.database_url(service))

    def counts() -> tuple[int, int, int]:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT count(*), sum(CASE WHEN aggregate_id = :a THEN 1 ELSE 0 END), "
                "sum(CASE WHEN aggregate_id = :a AND published_at IS NULL THEN 1 ELSE 0 END) "
                "FROM outbox WHERE published_at IS NULL OR aggregate_id = :a"), {"a": aggregate_id}).one()
            mine, mine_left = int(row[1] or 0), int(row[2] or 0)
            return int(row[0]) - mine + mine_left, mine, mine_left

    try:
        left, mine, mine_left = counts()
        last_move = time.monotonic()
        while mine == 0 or mine_left:
            time.sleep(0.1)
            now_left, mine, mine_left = counts()
            if now_left < left:
                last_move = time.monotonic()
            assert time.monotonic() - last_move < stall, \
                f"{service}'s relay made no progress for {stall} s ({now_left} rows unpublished)"
            left = now_left
    finally:
        engine.dispose()
