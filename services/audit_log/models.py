"""Tables of the audit-log service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging, SeqType
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)


class AuditEntry(Base):
    """One event as it was received. Hash chaining and retention come with the audit-log issue."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_tenant_time", "tenant_id", "occurred_at"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    tenant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    type: Mapped[str] = mapped_column(String(200), index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    subject: Mapped[dict[str, str]] = mapped_column(JSON)
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    trace_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
