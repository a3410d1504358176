"""Tables of the audit-log service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging, SeqType
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)


class AuditEntry(Base):
    """One event as it was received, as a link of its tenant's chain of its category
    (rules/chain.py): `tenant_seq` numbers the chain from 1, `entry_hash` covers the previous
    entry's hash and every stored field. `tenant_id` is null for events without a tenant; they
    form the system chain ('-')."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_tenant_time", "tenant_id", "occurred_at"),
        Index("ux_audit_entries_chain", "tenant_id", "category", "tenant_seq", unique=True),
        Index("ix_audit_entries_tenant_actor", "tenant_id", "actor_id"),
        # The log screen's pages: one category of one tenant, newest first (repository.entries_query).
        Index("ix_audit_entries_tenant_category_seq", "tenant_id", "category", "seq"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    # Not unique in the table: exactly-once is the inbox's (one consumer writes entries, and its
    # inbox key is the event id, claimed in the same transaction); no query looks entries up by it.
    event_id: Mapped[str] = mapped_column(String(36))
    tenant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    category: Mapped[str] = mapped_column(String(20))
    tenant_seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(200), index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    jigyosho_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    subject: Mapped[dict[str, str]] = mapped_column(JSON)
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    trace_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditTarget(Base):
    """The ids an entry is about (its subject, but the tenant), one row each: the index behind
    "filter by target", "filter by 事業所", "my own login history" and "who saw this person's My
    Number". Derived from the entry's subject, which its hash covers. Keyed by the entry's row
    number (`entry_seq`, ascending as entries arrive) rather than its random event id, so each
    batch appends at the end of the key instead of touching a page per row (docs/audit_log.md)."""

    __tablename__ = "audit_targets"
    __table_args__ = (Index("ix_audit_targets_tenant_value", "tenant_id", "value", "entry_seq"),)

    entry_seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(100))
    tenant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class ChainHead(Base):
    """The last entry of each chain: locked (FOR UPDATE on PostgreSQL) by the transaction that
    appends to the chain, so sequence numbers and hashes are assigned one writer at a time.
    `tenant_id` is '-' for the system chain."""

    __tablename__ = "audit_chain_heads"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    category: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Checkpoint(Base):
    """A signed checkpoint of one chain (rules/checkpoint.py): the chain held `tenant_seq`
    entries ending in `head_hash` at `signed_at`. kind `purge`: the entries up to it were deleted
    by retention, and verification starts from it."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (Index("ix_audit_checkpoints_chain", "tenant_id", "category", "tenant_seq"),)

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    category: Mapped[str] = mapped_column(String(20))
    tenant_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(10))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))
