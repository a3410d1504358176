"""Tables of the auth service. Tenants and users are replicas fed by accounts' events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)


class TenantRef(Base):
    """What auth needs of a tenant to log its users in: the code typed at login."""

    __tablename__ = "tenant_refs"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(20))


class Credential(Base):
    """A user's login identity. password_hash is argon2id; None until a password is set."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("tenant_id", "login_id", name="uq_credentials_tenant_login"),)

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    login_id: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_login_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
