"""NATS connection and the JetStream stream for `roumu.>`, created idempotently at start-up.

Every process connects as a NATS user of its own (shared/nats_auth.py): `NatsAccess` carries the
URL, that user's credentials and the TLS settings."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
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


def stream_config(name: str, replicas: int = 1) -> StreamConfig:
    """`replicas`: 1 on a single server (make run, compose), 3 on a JetStream cluster, where a
    message is acknowledged once a majority of the nodes stored it (docs/operations.md)."""
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
        num_replicas=replicas,
    )


def durable_config(durable: str, filter_subject: str, *, ack_wait: float, max_deliver: int,
                   max_ack_pending: int | None = None) -> ConsumerConfig:
    """A service's durable pull consumer: explicit acks, from the start of the stream.
    `max_ack_pending` None: the server's default (1,000). The name is set as well as the durable
    name so the client creates it on `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`: the
    filter is in the subject, where the NATS user's permissions bound it."""
    return ConsumerConfig(name=durable, durable_name=durable, ack_policy=AckPolicy.EXPLICIT,
                          deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait, max_deliver=max_deliver,
                          filter_subject=filter_subject, max_ack_pending=max_ack_pending)


@dataclass(frozen=True)
class NatsAccess:
    """How one process reaches NATS: the URL, its NATS user and password (None: the server has
    no authorization, e.g. a test's own bare server), and TLS (a CA to trust, and a client
    certificate when the server asks for one). Picklable and JSON-able (the fetch child gets it)."""

    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    @property
    def inbox_prefix(self) -> str:
        """Replies and push deliveries come to `_INBOX.<user>.…`: the user may subscribe there
        and nowhere else, so no service reads another's replies or deliveries."""
        return f"_INBOX.{self.user}" if self.user else "_INBOX"

    @property
    def uses_tls(self) -> bool:
        return self.url.startswith("tls://") or bool(self.tls_ca_file or self.tls_cert_file)

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        ctx = ssl.create_default_context(cafile=self.tls_ca_file)  # None: the system's CAs
        if self.tls_cert_file:
            ctx.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        return ctx


def server_urls(url: str) -> list[str]:
    """`url` may name several servers of a cluster, comma-separated: the client tries them all
    when it connects (a cluster's other nodes are also learnt from the first one reached)."""
    return [u.strip() for u in url.split(",") if u.strip()]


async def connect(access: NatsAccess | str, name: str, **kwargs: Any) -> NATS:
    """A client that keeps reconnecting forever: NATS being down makes events late, not lost.
    A bare URL connects without credentials (only a server without authorization accepts it)."""
    if isinstance(access, str):
        access = NatsAccess(access)
    options: dict[str, Any] = {
        "max_reconnect_attempts": -1, "reconnect_time_wait": 0.5, "connect_timeout": 2, "allow_reconnect": True,
        "inbox_prefix": access.inbox_prefix,
    }
    if access.user is not None:
        options.update(user=access.user, password=access.password or "")
    tls = access.tls_context()
    if tls is not None:
        options["tls"] = tls
    options.update(kwargs)
    return await nats.connect(servers=server_urls(access.url), name=name, **options)


async def ensure_stream(js: JetStreamContext, name: str, *, update: bool = False, replicas: int = 1) -> None:
    """Create the stream when missing, with `replicas` copies (ROUMU_NATS_STREAM_REPLICAS).
    `update`: also apply today's configuration, replicas included, to an existing stream; only
    the `ops` NATS user may (services may look and create, never change it)."""
    cfg = stream_config(name, replicas)
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
    if update:
        await js.update_stream(cfg)
