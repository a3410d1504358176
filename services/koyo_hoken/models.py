"""Tables of the koyo_hoken service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, Integer, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.outbox import Messaging
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)


class InsuredPerson(Base):
    """A worker of a client 事業所 who is (to be) insured under 雇用保険 (被保険者).

    No My Number here: it is collected and kept encrypted by a later, separate slice."""

    __tablename__ = "insured_persons"
    # Lists are per tenant and 事業所, newest last: one index serves the filter and the order.
    __table_args__ = (Index("ix_insured_persons_tenant_jigyosho", "tenant_id", "jigyosho_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    # The 事業所 lives in the accounts service: an id only, never a foreign key across databases.
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    family_name: Mapped[str] = mapped_column(String(50))
    given_name: Mapped[str] = mapped_column(String(50))
    family_name_kana: Mapped[str] = mapped_column(String(50))
    given_name_kana: Mapped[str] = mapped_column(String(50))
    birth_date: Mapped[date] = mapped_column(Date)
    hire_date: Mapped[date] = mapped_column(Date)
    # 所定労働時間 per week; 20 hours or more is the usual eligibility line, decided in rules/.
    weekly_hours: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict
