"""NATS connection and the JetStream stream for `roumu.>`, created idempotently at start-up."""

from __future__ import annotations

import logging
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError

log = logging.getLogger("roumu.nats")

SUBJECTS = ["roumu.>"]
# Documented in docs/events.md: file storage; 2-minute duplicate window for Nats-Msg-Id dedup
# (the relay's retries fall inside it); 30 days kept so a consumer down for a while catches up.
DUPLICATE_WINDOW_S = 120.0
MAX_AGE_S = 30 * 24 * 3600.0
MAX_BYTES = 10 * 1024**3
MAX_MSG_SIZE = 1024 * 1024


def stream_config(name: str) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=SUBJECTS,
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_age=MAX_AGE_S,
        max_bytes=MAX_BYTES,
        max_msg_size=MAX_MSG_SIZE,
        num_replicas=1,
    )


def durable_config(durable: str, filter_subject: str, *, ack_wait: float, max_deliver: int,
                   max_ack_pending: int | None = None) -> ConsumerConfig:
    """A service's durable pull consumer: explicit acks, from the start of the stream.
    `max_ack_pending` None: the server's default (1,000)."""
    return ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                          ack_wait=ack_wait, max_deliver=max_deliver, filter_subject=filter_subject,
                          max_ack_pending=max_ack_pending)


async def connect(url: str, name: str, **kwargs: Any) -> NATS:
    """A client that keeps reconnecting forever: NATS being down makes events late, not lost."""
    options: dict[str, Any] = {
        "max_reconnect_attempts": -1, "reconnect_time_wait": 0.5, "connect_timeout": 2, "allow_reconnect": True,
    }
    options.update(kwargs)
    return await nats.connect(servers=[url], name=name, **options)


async def ensure_stream(js: JetStreamContext, name: str) -> None:
    cfg = stream_config(name)
    try:
        await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(cfg)
            log.info("created stream", extra={"stream": name})
            return
        except BadRequestError:
            # Another process created it between our look and our add.
            pass
    await js.update_stream(cfg)
