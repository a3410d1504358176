"""Tables of the e-Gov sandbox: what it issued (tokens, 到達番号), the cases it advances, the
notices and 公文書 it produced, and every request it received (so tests assert what was sent)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging, SeqType


class Base(DeclarativeBase):
    metadata = new_metadata()


# Every service database has the same outbox/inbox tables, so ops and the migration check treat
# them alike; the sandbox is "outside" and never writes to them, so its relay never publishes.
messaging = Messaging(Base.metadata)


class SandboxCase(Base):
    """One application e-Gov received (申請案件), as the sandbox tracks it."""

    __tablename__ = "sandbox_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # 到達番号 (arrive_id): 16–18 half-width digits; the sandbox issues 16.
    arrival_number: Mapped[str] = mapped_column(String(18), unique=True)
    # 手続ID: 16 alphanumerics.
    proc_id: Mapped[str] = mapped_column(String(16))
    # e-Gov's status is free text (到達, 審査中, 手続終了, …), kept verbatim.
    status: Mapped[str] = mapped_column(String(256))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The e-Gov account (token subject) that sent it: lists and reads are scoped by it.
    account: Mapped[str] = mapped_column(String(100), index=True)
    apply_type: Mapped[str] = mapped_column(String(20))
    proc_name: Mapped[str] = mapped_column(String(256))
    applicant_name: Mapped[str] = mapped_column(String(256))
    corporation_name: Mapped[str] = mapped_column(String(256))
    # Bulk sends: the send's number and the application's folder in the bulk ZIP.
    send_number: Mapped[str | None] = mapped_column(String(18), index=True, nullable=True)
    bulk_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    folder_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # The scripted outcome: steps still to come ({"status", "notice"?, "document"?}) and how they come.
    steps: Mapped[list[Any]] = mapped_column(JSON)
    after_amend: Mapped[list[Any]] = mapped_column(JSON)
    withdraw_outcome: Mapped[str] = mapped_column(String(10))
    advance: Mapped[str] = mapped_column(String(10))
    withdraw_flag: Mapped[bool] = mapped_column(Boolean)
    forms: Mapped[list[Any]] = mapped_column(JSON)
    attachments: Mapped[list[Any]] = mapped_column(JSON)


class SandboxNotice(Base):
    """A notice on a case (お知らせ, 補正, 取下げ)."""

    __tablename__ = "sandbox_notices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    notice_sub_id: Mapped[int] = mapped_column(Integer)
    notice_type: Mapped[str] = mapped_column(String(20))
    correct_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    title: Mapped[str] = mapped_column(String(256))
    sentence: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    correct_expired_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    correct_completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SandboxDocument(Base):
    """A 公文書 issued on a case: a ZIP of signed XML (+ XSL), until downloaded and completed."""

    __tablename__ = "sandbox_documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    notice_sub_id: Mapped[int] = mapped_column(Integer)
    doc_title: Mapped[str] = mapped_column(String(256))
    file_names: Mapped[list[Any]] = mapped_column(JSON)
    zip_data: Mapped[bytes] = mapped_column(LargeBinary)
    signed: Mapped[bool] = mapped_column(Boolean)
    allowed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    download_expired_date: Mapped[str] = mapped_column(String(10))
    downloaded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SandboxSend(Base):
    """One /bulk-apply send: its 送信番号 and the per-folder result report."""

    __tablename__ = "sandbox_sends"

    send_number: Mapped[str] = mapped_column(String(18), primary_key=True)
    account: Mapped[str] = mapped_column(String(100), index=True)
    file_name: Mapped[str] = mapped_column(String(256))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    apply_count: Mapped[int] = mapped_column(Integer)
    arrive_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    result: Mapped[list[Any]] = mapped_column(JSON)


class SandboxAuthCode(Base):
    """An authorization code (PKCE S256), single use."""

    __tablename__ = "sandbox_auth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100))
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    code_challenge: Mapped[str] = mapped_column(String(128))
    account: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used: Mapped[bool] = mapped_column(Boolean)


class SandboxToken(Base):
    """An access/refresh token pair (stored as hashes). A refresh rotates both."""

    __tablename__ = "sandbox_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(100))
    session_state: Mapped[str] = mapped_column(String(36))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    access_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    refresh_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean)


class SandboxRequest(Base):
    """Everything the sandbox received, in order, with what it answered and any fault injected."""

    __tablename__ = "sandbox_requests"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(1000))
    query: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    fault: Mapped[str | None] = mapped_column(String(20), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
