"""Tables of the efiling service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint, event, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging, SeqType
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
        Index("ix_filings_tenant_status", "tenant_id", "status"),
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
    # The service that asked for the filing (koyo_hoken, jimukumiai), None for a staff user. With
    # the idempotency key (the caller's procedure id) it goes into every event's subject.
    source: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # The insured person the filing is about, when the caller named one (koyo_hoken does): a
    # download of its package that shows the My Number is recorded as a view of that person's number.
    insured_person_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # When what a reader sees of the filing (FilingOut: its status, its submission's e-Gov fields)
    # last changed; None until it does. Set by _touch below, for partners' `updated_since` sync.
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict


# ---------------------------------------------------------------- e-Gov accounts and submissions
# (issue 8). Tokens, the PKCE verifier and form data (which may hold a My Number) are sealed at
# rest with shared.crypto (AES-256-GCM), bound to their row by the AAD.


class EgovAccount(Base):
    """An e-Gov account a tenant linked (the office's, the association's 理事長's, …)."""

    __tablename__ = "egov_accounts"
    __table_args__ = (Index("ix_egov_accounts_tenant", "tenant_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    label: Mapped[str] = mapped_column(String(100))
    # pending (authorisation started) → linked → logged_out
    state: Mapped[str] = mapped_column(String(20))
    # The e-Gov account the tokens belong to (introspection's `sub`), once linked.
    egov_subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    oauth_state_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    code_verifier_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    access_token_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    refresh_token_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    access_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # One unconfirmed /apply per account at a time: the filing holding the claim (see submission.py).
    inflight_filing_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The office certificate packages sent with this account are signed with (None: the tenant's default).
    certificate_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class OfficeCertificate(Base):
    """An office's signing certificate (the 社労士 office's, the 事務組合 理事長's …), uploaded as
    PKCS#12. The PKCS#12 file and its password are not kept: the private key is re-encrypted
    (PKCS#8 DER sealed with shared.crypto, AAD bound to the row) and the certificate kept as DER."""

    __tablename__ = "office_certificates"
    __table_args__ = (Index("ix_office_certificates_tenant", "tenant_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    label: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(1000))
    issuer: Mapped[str] = mapped_column(String(1000))
    serial_number: Mapped[str] = mapped_column(String(80))
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[datetime] = mapped_column(UtcDateTime)
    fingerprint_sha256: Mapped[str] = mapped_column(String(64))
    key_size: Mapped[int] = mapped_column(Integer)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    # Further certificates of the PKCS#12 (the issuing CA chain), DER, base64 — public data.
    chain: Mapped[list[Any]] = mapped_column(JSON)
    private_key_sealed: Mapped[str] = mapped_column(Text)
    # The tenant's default: used by every e-Gov account that has no certificate of its own.
    is_default: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Submission(Base):
    """The e-Gov side of one filing: what is sent, what came back, where the case stands."""

    __tablename__ = "submissions"
    __table_args__ = (
        # An arrival belongs to one filing: the database refuses a second claim on the same 到達番号.
        UniqueConstraint("arrive_id", name="uq_submissions_arrive_id"),
        Index("ix_submissions_state_next_poll", "state", "next_poll_at"),
        Index("ix_submissions_account", "egov_account_id"),
        Index("ix_submissions_send_number", "send_number"),
    )

    filing_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    egov_account_id: Mapped[str] = mapped_column(String(36))
    proc_id: Mapped[str] = mapped_column(String(16))
    # Our state (rules.status.State), and e-Gov's raw status string, verbatim (unknown ones too).
    state: Mapped[str] = mapped_column(String(20))
    egov_status: Mapped[str | None] = mapped_column(String(256), nullable=True)
    form_data_sealed: Mapped[str] = mapped_column(Text)
    applicant: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Sealed attachment bytes (services/efiling/attachments.py): loaded only when a package is built.
    attachments: Mapped[list[Any]] = mapped_column(JSON, deferred=True)
    sign: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer)
    # Written before each send: reconciliation looks for arrivals from this moment on.
    send_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    arrive_id: Mapped[str | None] = mapped_column(String(18), nullable=True)
    arrive_date: Mapped[str | None] = mapped_column(String(19), nullable=True)
    bulk_send_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    send_number: Mapped[str | None] = mapped_column(String(18), nullable=True)
    bulk_folder: Mapped[str | None] = mapped_column(String(40), nullable=True)
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    poll_failures: Mapped[int] = mapped_column(Integer)
    correction_deadline: Mapped[str | None] = mapped_column(String(10), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class FilingEvent(Base):
    """One line of a filing's history: state changes, e-Gov statuses, sends, notices, documents."""

    __tablename__ = "filing_history"
    __table_args__ = (Index("ix_filing_history_filing", "filing_id", "seq"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    filing_id: Mapped[str] = mapped_column(String(36))
    tenant_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    egov_status: Mapped[str | None] = mapped_column(String(256), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class FilingPackage(Base):
    """Every package built for a filing (apply, amend, withdraw), exactly as sent: sealed, since its
    申請書XML holds the My Number (services/efiling/packages.py)."""

    __tablename__ = "filing_packages"
    __table_args__ = (Index("ix_filing_packages_filing", "filing_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    filing_id: Mapped[str] = mapped_column(String(36))
    tenant_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(256))
    # The ZIP sealed with the data keys, AAD bound to the row. `zip_data`: the ZIP in clear of rows
    # written before sealing, null once the service has sealed them at start-up.
    zip_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    zip_data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    signed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FilingNotice(Base):
    """A notice e-Gov issued on the case (補正 with its deadline, お知らせ, 取下げ)."""

    __tablename__ = "filing_notices"
    __table_args__ = (UniqueConstraint("filing_id", "notice_sub_id", name="uq_filing_notices_filing_sub"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    filing_id: Mapped[str] = mapped_column(String(36))
    tenant_id: Mapped[str] = mapped_column(String(36))
    notice_sub_id: Mapped[int] = mapped_column(Integer)
    notice_type: Mapped[str] = mapped_column(String(20))
    correct_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    title: Mapped[str] = mapped_column(String(256))
    sentence: Mapped[str] = mapped_column(Text)
    correct_expired_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    issued: Mapped[str | None] = mapped_column(String(19), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OfficialDocument(Base):
    """A 公文書: downloaded, its signature checked, stored, and its download completed at e-Gov."""

    __tablename__ = "official_documents"
    __table_args__ = (UniqueConstraint("filing_id", "notice_sub_id", name="uq_official_documents_filing_sub"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    filing_id: Mapped[str] = mapped_column(String(36))
    tenant_id: Mapped[str] = mapped_column(String(36))
    notice_sub_id: Mapped[int] = mapped_column(Integer)
    doc_title: Mapped[str] = mapped_column(String(256))
    file_names: Mapped[list[Any]] = mapped_column(JSON)
    # Where the bytes are: the files service's file id (stored through its internal official-documents
    # route). `blob_id` is the efiling `document_blobs` row of documents received before that (read only).
    file_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    blob_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    signed: Mapped[bool] = mapped_column(Boolean)
    signature_valid: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    signer: Mapped[str | None] = mapped_column(String(500), nullable=True)
    egov_verify_result: Mapped[str | None] = mapped_column(String(256), nullable=True)
    downloaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class DocumentBlob(Base):
    """Bytes of 公文書 efiling kept itself before they went to the files service: no longer written,
    still read for the documents recorded then (services/efiling/documents.py)."""

    __tablename__ = "document_blobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    media_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BulkSend(Base):
    """One /bulk-apply send of many filings; written before the call like every submission."""

    __tablename__ = "bulk_sends"
    __table_args__ = (Index("ix_bulk_sends_account", "egov_account_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    egov_account_id: Mapped[str] = mapped_column(String(36))
    # sending (written before the call) → unknown (no answer) → sent (send_number known) → mapped
    state: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(256))
    send_number: Mapped[str | None] = mapped_column(String(18), nullable=True, unique=True)
    count: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


# ---------------------------------------------------------------- updated_at of a filing
# A filing changes in many places (send, tracking, notices, amend, withdraw …), and its listed
# form includes its submission's fields: one flush hook stamps Filing.updated_at whenever one of
# those changes, so no code path can forget to. Wall time, like created_at: it is a sync cursor.
_FILING_SEEN = ("jigyosho_id", "procedure_code", "title", "status", "source")
_SUBMISSION_SEEN = ("state", "egov_status", "egov_account_id", "arrive_id", "arrive_date",
                    "correction_deadline", "attempts")


def _changed(obj: Any, fields: tuple[str, ...]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[f].history.has_changes() for f in fields)


@event.listens_for(Session, "before_flush")
def _touch(session: Session, _context: Any, _instances: Any) -> None:
    now = datetime.now(UTC)
    changed: dict[str, Filing | None] = {}
    for obj in session.dirty:
        if isinstance(obj, Filing) and _changed(obj, _FILING_SEEN):
            changed[obj.id] = obj
        elif isinstance(obj, Submission) and _changed(obj, _SUBMISSION_SEEN):
            changed.setdefault(obj.filing_id, None)
    # A submission is only ever created with its filing (service.create_filing): not a change.
    with session.no_autoflush:
        for fid, f in changed.items():
            f = f if f is not None else session.get(Filing, fid)
            if f is not None:
                f.updated_at = now
