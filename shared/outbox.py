"""Transactional outbox and inbox tables, attached to each service's own metadata.

A state change and its event are written in one transaction (outbox); a consumer records the
event ids it handled in the same transaction as the effect (inbox), so a redelivery is a no-op."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db import UtcDateTime
from shared.events import EventEnvelope

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        # seq orders publication: events leave in the order they were committed.
        Column("seq", SeqType, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("aggregate_id", String(64), nullable=False),
        Column("payload", JSON, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("published_at", UtcDateTime, nullable=True, index=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", String(500), nullable=True),
    )


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("handled_at", UtcDateTime, nullable=False),
    )


class Messaging:
    """The outbox and inbox tables of one service's metadata."""

    def __init__(self, metadata: MetaData) -> None:
        self.outbox = outbox_table(metadata)
        self.inbox = inbox_table(metadata)

    def record(self, session: Session, event: EventEnvelope) -> None:
        """Write the event in the caller's transaction: it is published only if that commits."""
        session.execute(
            insert(self.outbox).values(
                event_id=event.id,
                subject=event.type,
                aggregate_id=event.aggregate_id[:64],
                payload=event.model_dump(mode="json"),
                created_at=datetime.now(UTC),
                attempts=0,
            )
        )

    def record_many(self, session: Session, events: list[EventEnvelope]) -> None:
        """`record` for many events in one executemany (bulk imports), in list order."""
        if not events:
            return
        now = datetime.now(UTC)
        session.execute(insert(self.outbox), [
            {"event_id": e.id, "subject": e.type, "aggregate_id": e.aggregate_id[:64],
             "payload": e.model_dump(mode="json"), "created_at": now, "attempts": 0} for e in events])

    def claim(self, session: Session, consumer: str, event_id: str) -> bool:
        """Record `event_id` as handled by `consumer`; False when it already was.

        Runs inside the transaction of the effect, so effect and record commit together."""
        seen = session.execute(
            select(self.inbox.c.event_id).where(
                self.inbox.c.consumer == consumer, self.inbox.c.event_id == event_id
            )
        ).first()
        if seen:
            return False
        try:
            with session.begin_nested():
                session.execute(
                    insert(self.inbox).values(consumer=consumer, event_id=event_id, handled_at=datetime.now(UTC))
                )
        except IntegrityError:
            # A concurrent delivery of the same event won the race.
            return False
        return True
