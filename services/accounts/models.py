"""Tables of the accounts service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)


class Tenant(Base):
    """One contract: a 社労士事務所, a 事務組合, or both; with its security settings.

    status: active → disabled (the business day after the contract end) → purged (every
    service's data deleted); the row itself goes on the account-deletion day."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    contract_start: Mapped[date] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    totp_required: Mapped[bool] = mapped_column(Boolean, default=False)
    device_cert_required: Mapped[bool] = mapped_column(Boolean, default=False)
    ip_allowlist: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"min_length", "max_length", "history", "min_age_hours"}: null = auth's default.
    password_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"threshold", "duration_minutes", "admin_unlock_only"}: null = auth's default.
    lockout_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict


class User(Base):
    """A staff member of one tenant, with roles and grants. Credentials live in auth, not here."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "login_id", name="uq_users_tenant_login"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    login_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    roles: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # {menu_key: "read" | "write"} (shared.permissions.MENUS).
    menus: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    jigyosho_all: Mapped[bool] = mapped_column(Boolean, default=False)
    jigyosho_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Grows with every change of roles, grants or status: read models keep only the newest.
    permissions_version: Mapped[int] = mapped_column(Integer, default=1)
    # Where notices are mailed (optional). Never in an event: only accounts holds addresses.
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # The daily deadline digest: deadlines within this many days (None: no digest).
    deadline_digest_days: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Jigyosho(Base):
    """A client employer (事業所) of the tenant: the master koyo_hoken and jimukumiai refer to."""

    __tablename__ = "jigyosho"
    __table_args__ = (Index("ix_jigyosho_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(200))
    name_kana: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(8), nullable=True)
    address: Mapped[str] = mapped_column(String(300))
    # 14 digits without separators (rules/numbers.py).
    labour_insurance_number: Mapped[str | None] = mapped_column(String(14), nullable=True)
    # dddd-dddddd-d (or dddd-dddddd, legacy without check digit).
    employment_insurance_office_number: Mapped[str | None] = mapped_column(String(13), nullable=True)
    rousai_gyoshu_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    koyo_jigyo_kubun: Mapped[str] = mapped_column(String(30))
    headcount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20))
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Notice(Base):
    """お知らせ published by a system operator: to every tenant (tenant_id null) or to one."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_visible_until", "visible_until"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))  # maintenance | end_of_service | information
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    emergency: Mapped[bool] = mapped_column(Boolean)
    emergency_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Shown until then (the end of the maintenance, the end of service, or a chosen day).
    visible_until: Mapped[datetime] = mapped_column(UtcDateTime)
    published_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ContractTermination(Base):
    """The end of one contract and its three steps. Kept after the tenant is gone: it is the
    record the deletion certificate is issued from (tenant code and name, dates, counts)."""

    __tablename__ = "contract_terminations"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_code: Mapped[str] = mapped_column(String(32))
    tenant_name: Mapped[str] = mapped_column(String(200))
    contract_end: Mapped[date] = mapped_column(Date)
    accounts_disabled_on: Mapped[date] = mapped_column(Date)
    data_deleted_on: Mapped[date] = mapped_column(Date)
    accounts_deleted_on: Mapped[date] = mapped_column(Date)
    # scheduled → disabled → purging → purged → accounts_deleted
    status: Mapped[str] = mapped_column(String(20), index=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    purge_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    accounts_deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    account_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PurgeConfirmation(Base):
    """roumu.<service>.tenant.purged, as received."""

    __tablename__ = "purge_confirmations"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    purged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


# The generic purge (shared.purge) leaves these to the account-deletion step (or keeps them).
class MailDelivery(Base):
    """One mail to one user (the delivery log): queued from an event, sent by the mail worker with
    retries; a refusal or a give-up stays here (and is an event), never silently dropped."""

    __tablename__ = "mail_deliveries"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id", "user_id", name="uq_mail_deliveries_kind"),
        Index("ix_mail_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))  # notice
    ref_id: Mapped[str] = mapped_column(String(36))  # the notice's id
    address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # pending | sent | refused | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TenantExport(Base):
    """A return before deletion (返却, issue 24.5): one whole-tenant export an operator made
    (ops.tenant_export), its manifest as signed with the deletion certificate key, and the archive
    kept for the tenant's administrators to download until the data is deleted (the row goes with
    the tenant's operational data at the purge step, the archive file with it)."""

    __tablename__ = "tenant_exports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    operator: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    my_numbers_included: Mapped[bool] = mapped_column(Boolean)
    recipient_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    manifest: Mapped[str] = mapped_column(Text)  # the exact signed text
    signature: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(100))
    archive_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    archive_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


PURGE_KEEP = ("users", "permission_grants", "contract_terminations", "purge_confirmations")
