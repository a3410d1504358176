"""Tables of the files service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.jigyosho_directory import JigyoshoDirectory
from shared.outbox import Messaging
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)
# The 事業所 master as accounts publishes it (shared.jigyosho_directory): writes refer only to known, open 事業所.
jigyosho_directory = JigyoshoDirectory(Base.metadata)


class StoredFile(Base):
    """One file: its metadata, where its sealed bytes are and the key that opens them.

    status: `registered` (metadata only, no bytes), `quarantined` (stored, not yet scanned clean:
    never served), `available`, `infected` (refused; bytes removed, row kept as the record),
    `deleted` (bytes and key removed, row kept as the record)."""

    __tablename__ = "files"
    __table_args__ = (
        # Ids are the tenant's own (issue #10): a client chooses them on PUT, so the same id in
        # another tenant is simply another file, and nothing tells a tenant that it exists.
        PrimaryKeyConstraint("tenant_id", "id", name="pk_files"),
        # Finding an already-stored copy (same content, same tenant) is by hash.
        Index("ix_files_tenant_sha256", "tenant_id", "sha256"),
        Index("ix_files_tenant_jigyosho", "tenant_id", "jigyosho_id"),
        Index("ix_files_status_retention", "status", "retention_until"),
    )

    id: Mapped[str] = mapped_column(String(36))
    tenant_id: Mapped[str] = mapped_column(String(36))
    # Sanitised on the way in: no path, no control or bidi characters (see schemas).
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # Ownership: every uploaded file belongs to a 事業所, optionally to a procedure or a filing.
    jigyosho_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    procedure_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filing_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Storage: the object key (never derived from the name), the sealed size, the file's data
    # key wrapped by the tenant key (removed on deletion: crypto-shredding).
    storage_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sealed_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    wrapped_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    scan_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    scan_signature: Mapped[str | None] = mapped_column(String(200), nullable=True)
    scanned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    uploaded_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    retention_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    deleted_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict


class TenantKey(Base):
    """The tenant's key for wrapping file keys, itself sealed under the service data keys
    (shared.crypto, rotatable). Deleting it (contract end) leaves every copy of the tenant's
    files, backups included, unreadable."""

    __tablename__ = "tenant_keys"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sealed_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TenantUsage(Base):
    """Bytes and files a tenant stores now (quota); locked per upload commit."""

    __tablename__ = "tenant_usage"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bytes_used: Mapped[int] = mapped_column(BigInteger)
    files_count: Mapped[int] = mapped_column(Integer)


class AttachableRef(Base):
    """A procedure (koyo_hoken) or a filing (efiling) a file may be attached to, with its 事業所:
    a read model of `roumu.koyo_hoken.procedure.created` and `roumu.efiling.filing.drafted`.

    An upload that names a procedure or filing must name one of the caller's tenant in the same
    事業所 as the file (services/files/references.py): otherwise a user limited to J2 could attach
    files to J1's procedures. Rows are never updated (a procedure or filing keeps its 事業所)."""

    __tablename__ = "attachable_refs"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "kind", "ref_id", name="pk_attachable_refs"),)

    tenant_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))  # procedure | filing
    ref_id: Mapped[str] = mapped_column(String(64))
    jigyosho_id: Mapped[str] = mapped_column(String(36))
