"""Tables of the shakai_hoken service.

The person master (names, birth date as entered for 雇用保険, My Number) lives in koyo_hoken
(docs/architecture.md, "社会保険 and the person master"): this service keeps a read model of
koyo_hoken's person events (`person_refs`: ids, 事業所, hire date, status; never a name or a number)
and its own 社保 enrolment per person. It holds no My Number and no 基礎年金番号."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.jigyosho_directory import JigyoshoDirectory
from shared.outbox import Messaging
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)
jigyosho_directory = JigyoshoDirectory(Base.metadata)


class ShahoOffice(Base):
    """A client 事業所 as 社会保険 sees it: its numbers, insurer and rates, 特定適用 status."""

    __tablename__ = "shaho_offices"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    jigyosho_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seiri_kigo: Mapped[str] = mapped_column(String(20))  # 事業所整理記号
    office_number: Mapped[str] = mapped_column(String(10))  # 事業所番号
    insurer_kind: Mapped[str] = mapped_column(String(10))  # kyokai | kumiai
    prefecture: Mapped[str | None] = mapped_column(String(2), nullable=True)  # 協会けんぽ 支部 (JIS code)
    kumiai_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    kumiai_rates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # dated rows (rules.rates.KumiaiRates)
    tokutei_tekiyo: Mapped[bool] = mapped_column(Boolean)  # 特定適用事業所
    collection_timing: Mapped[str] = mapped_column(String(12))  # next_month | same_month
    rounding: Mapped[str] = mapped_column(String(30))  # rules.premiums.Rounding
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict


class PersonRef(Base):
    """koyo_hoken's insured person as its events tell it (roumu.koyo_hoken.insured_person.*)."""

    __tablename__ = "person_refs"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    insured_person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    hire_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the latest event's occurred_at applied


class Enrolment(Base):
    """One person's 社会保険 資格 at one 事業所: 取得日, 喪失日, and what the rules need."""

    __tablename__ = "enrolments"
    __table_args__ = (
        Index("ix_enrolments_tenant_jigyosho", "tenant_id", "jigyosho_id", "created_at"),
        Index("uq_enrolments_tenant_person_acquired", "tenant_id", "insured_person_id", "acquired_on",
              unique=True),
        # One open enrolment per person: `open_person` is the person id while not lost, NULL after.
        Index("uq_enrolments_tenant_open_person", "tenant_id", "open_person", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    insured_person_id: Mapped[str] = mapped_column(String(36))
    birth_date: Mapped[date] = mapped_column(Date)  # for the age rules (介護 40/65, 厚年 70, 健保 75)
    acquired_on: Mapped[date] = mapped_column(Date)  # 資格取得日
    lost_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # 資格喪失日
    open_person: Mapped[str | None] = mapped_column(String(36), nullable=True)
    worker_type: Mapped[str] = mapped_column(String(20))  # rules.teiji.WorkerType
    kenpo: Mapped[bool] = mapped_column(Boolean)
    kounen: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict


class StandardRemuneration(Base):
    """A 標準報酬月額 decision of one enrolment, from its first month; the history is the rows."""

    __tablename__ = "standard_remunerations"
    __table_args__ = (
        Index("uq_standard_remunerations_enrolment_month", "enrolment_id", "effective_from", unique=True),
        Index("ix_standard_remunerations_tenant", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    enrolment_id: Mapped[str] = mapped_column(String(36))
    effective_from: Mapped[date] = mapped_column(Date)  # first day of the first premium month
    reason: Mapped[str] = mapped_column(String(20))  # shutoku | teiji | zuiji | leave_end | correction
    remuneration: Mapped[int] = mapped_column(Integer)  # 報酬月額
    kenpo_grade: Mapped[int] = mapped_column(Integer)
    kenpo_standard: Mapped[int] = mapped_column(Integer)
    kounen_grade: Mapped[int] = mapped_column(Integer)
    kounen_standard: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PayMonthRow(Base):
    """報酬 paid to an enrolled person in a payment month, with its 支払基礎日数 (entered through the API
    until payroll intake feeds it): what 定時決定 and 随時改定 read."""

    __tablename__ = "pay_months"
    __table_args__ = (Index("uq_pay_months_enrolment_month", "enrolment_id", "month", unique=True),
                      Index("ix_pay_months_tenant", "tenant_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    enrolment_id: Mapped[str] = mapped_column(String(36))
    month: Mapped[date] = mapped_column(Date)  # first day of the payment month
    pay: Mapped[int] = mapped_column(Integer)
    base_days: Mapped[int] = mapped_column(Integer)
    retro_pay: Mapped[int] = mapped_column(Integer)
    partial_first_month: Mapped[bool] = mapped_column(Boolean)
    leave_pay: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TeijiRun(Base):
    """One 定時決定 run of a year over the tenant's (or some 事業所') enrolments."""

    __tablename__ = "teiji_runs"
    __table_args__ = (Index("uq_teiji_runs_scope", "tenant_id", "year", "scope_key", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    year: Mapped[int] = mapped_column(Integer)
    scope_key: Mapped[str] = mapped_column(String(400))  # "*" or the sorted 事業所 ids
    jigyosho_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    actor_id: Mapped[str] = mapped_column(String(64))


class TeijiResultRow(Base):
    """A person's 定時決定 of a year: excluded (why) or decided (old and new grades, flags)."""

    __tablename__ = "teiji_results"
    __table_args__ = (Index("uq_teiji_results_year_enrolment", "tenant_id", "year", "enrolment_id", unique=True),
                      Index("ix_teiji_results_run", "run_id", "jigyosho_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    year: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(String(36))
    enrolment_id: Mapped[str] = mapped_column(String(36))
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(10))  # decided | excluded
    exclusion: Mapped[str | None] = mapped_column(String(40), nullable=True)
    remuneration: Mapped[int | None] = mapped_column(Integer, nullable=True)
    old_kenpo_grade: Mapped[int | None] = mapped_column(Integer, nullable=True)
    old_kounen_grade: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kenpo_grade: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kenpo_standard: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kounen_grade: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kounen_standard: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kept_previous: Mapped[bool] = mapped_column(Boolean)
    flags: Mapped[list[str]] = mapped_column(JSON)
    flagged: Mapped[bool] = mapped_column(Boolean)  # flags for staff to confirm (保険者算定, dropped months)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BonusRow(Base):
    """A 賞与 paid to an enrolled person (several in one month are added up: rules.bonus)."""

    __tablename__ = "bonuses"
    __table_args__ = (Index("ix_bonuses_enrolment", "enrolment_id", "paid_on"), Index("ix_bonuses_tenant", "tenant_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    enrolment_id: Mapped[str] = mapped_column(String(36))
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
