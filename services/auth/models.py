"""Tables of the auth service. Tenants and users are replicas fed by accounts' events; the rest
is auth's own: password history, sessions and refresh tokens, login history, lockout records,
TOTP recovery codes, the per-tenant device CA and its certificates, partner clients."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
# Users' roles, grants and status as accounts publishes them: who is an administrator here, and
# whether a snapshot is a change (a newer permissions_version) that must end the user's sessions.
permissions = Permissions(Base.metadata)


class TenantRef(Base):
    """What auth needs of a tenant to log its users in: the code typed at login."""

    __tablename__ = "tenant_refs"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(20))


class TenantPolicy(Base):
    """A tenant's security settings, replicated from roumu.accounts.tenant.settings_changed.
    Kept apart from tenant_refs: the settings may arrive before the tenant (other consumer)."""

    __tablename__ = "tenant_policies"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    totp_required: Mapped[bool] = mapped_column(Boolean)
    device_cert_required: Mapped[bool] = mapped_column(Boolean)
    ip_allowlist: Mapped[list[str]] = mapped_column(JSON)
    password_policy: Mapped[dict[str, object]] = mapped_column(JSON)
    lockout_policy: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Credential(Base):
    """A user's login identity. password_hash is argon2id; None until a password is set.
    totp_secret and totp_pending_secret are sealed (shared.crypto), never plain."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("tenant_id", "login_id", name="uq_credentials_tenant_login"),)

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    login_id: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The last change the min-age rule counts (an administrator's reset does not set it).
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    failed_count: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_login_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    last_login_user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_pending_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PasswordHistory(Base):
    """Hashes of the passwords a user had, newest kept up to the tenant's history length."""

    __tablename__ = "password_history"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuthSession(Base):
    """One login on one device; `id` is the `sid` claim of its access tokens."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    method: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The device certificate the login presented (serial, hex): revoking it ends this session.
    device_serial: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    # The login before this one, as shown at login; `me` answers it for the session's life.
    previous_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    previous_login_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    previous_login_user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)


class RefreshToken(Base):
    """Every refresh token a session was given; all but the newest are rotated (used)."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class LoginEvent(Base):
    """Login history (kept 1 year): successes, failures and lockouts, per user and source."""

    __tablename__ = "login_events"
    __table_args__ = (
        Index("ix_login_events_user_at", "user_id", "at"),
        Index("ix_login_events_ip_at", "ip", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    outcome: Mapped[str] = mapped_column(String(20))  # succeeded | failed | locked
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    method: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Lockout(Base):
    """One lockout and how it ended (kept 1 year)."""

    __tablename__ = "lockouts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    locked_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    failures: Mapped[int] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    unlocked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    unlocked_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    unlock_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)  # expired | admin


class TenantCa(Base):
    """The tenant's device CA. key_sealed is the private key, sealed with a data key."""

    __tablename__ = "tenant_cas"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cert_pem: Mapped[str] = mapped_column(Text)
    key_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeviceCertificate(Base):
    __tablename__ = "device_certificates"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # hex
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    label: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_by: Mapped[str] = mapped_column(String(36))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(36), nullable=True)


class PartnerClient(Base):
    """An OAuth2 client-credentials client of one tenant. secret_hash is SHA-256 of a 256-bit
    random secret, shown once at creation or rotation."""

    __tablename__ = "partner_clients"

    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The administrator who created it (the client belongs to the tenant, see docs/identity.md).
    created_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    secret_rotated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The 事業所 the tenant granted the client (ids of accounts' 事業所); None = every 事業所.
    jigyosho_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # The revocable id (`sid`) its tokens carry; replaced on rotation and disabling, when the old
    # one is published as revoked (roumu.auth.session.revoked), so earlier tokens stop everywhere.
    token_sid: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Operator(Base):
    """A system operator (issue 24): not a user of any tenant, created by `python -m ops.operators
    add`. TOTP is always required; `totp_secret` is sealed (shared.crypto) with the operator's id as
    associated data. `name` is what the audit log shows as the actor of every operator action."""

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # active | disabled
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str] = mapped_column(String(255))
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failed_count: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_login_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
