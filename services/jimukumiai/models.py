"""Tables of the jimukumiai service."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)


class Member(Base):
    """A 委託事業主: an employer that entrusted its labour insurance affairs to the 事務組合."""

    __tablename__ = "members"
    __table_args__ = (
        # One 労働保険番号 is one 労働保険関係: it can be entrusted to a tenant only once.
        UniqueConstraint("tenant_id", "labour_insurance_number", name="uq_members_tenant_lin"),
        Index("ix_members_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    # The 事業所 lives in the accounts service: an id only, never a foreign key across databases.
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(200))
    # 14 digits: 府県2 + 所掌1 + 管轄2 + 基幹番号6 + 枝番号3, kept without separators.
    labour_insurance_number: Mapped[str] = mapped_column(String(14))
    entrusted_from: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict
