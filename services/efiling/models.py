"""Tables of the efiling service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)


class Filing(Base):
    """One electronic filing (電子申請) to e-Gov, from draft to the end of its case."""

    __tablename__ = "filings"
    __table_args__ = (
        # The database, not a read-then-write, guarantees one filing per retry key: two racing
        # retries cannot both insert. NULL keys (no header) never collide.
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_filings_tenant_idempotency_key"),
        Index("ix_filings_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    # The 事業所 lives in the accounts service: an id only, never a foreign key across databases.
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    # e-Gov 手続ID (proc_id): 16 alphanumerics. Kept as data: the table of procedures changes.
    procedure_code: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # sha256 of the request that used the key: the same key with another body is refused.
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict
