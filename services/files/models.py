"""Tables of the files service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)


class StoredFile(Base):
    """What is known about one file: its metadata. The bytes arrive with the upload slice."""

    __tablename__ = "files"
    __table_args__ = (
        # Finding an already-stored copy (same content, same tenant) is by hash.
        Index("ix_files_tenant_sha256", "tenant_id", "sha256"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    # Sanitised on the way in: no path, no control or bidi characters (see schemas).
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict
