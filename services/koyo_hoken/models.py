"""Tables of the koyo_hoken service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, Numeric, String, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, new_metadata
from shared.idempotency import Idempotency
from shared.jigyosho_directory import JigyoshoDirectory
from shared.outbox import Messaging
from shared.permissions import Permissions


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = Messaging(Base.metadata)
permissions = Permissions(Base.metadata)
# The 事業所 master as accounts publishes it (shared.jigyosho_directory): writes refer only to known, open 事業所.
jigyosho_directory = JigyoshoDirectory(Base.metadata)
idempotency = Idempotency(Base.metadata)


class InsuredPerson(Base):
    """A worker of a client 事業所 who is (to be) insured under 雇用保険 (被保険者).

    My Number is kept only sealed (shared.crypto, AES-GCM under the rotatable data keys, bound to
    this row's tenant and id as AAD) in `my_number_sealed`; nothing else holds it."""

    __tablename__ = "insured_persons"
    # Lists are per tenant and 事業所, newest last: one index serves the filter and the order.
    __table_args__ = (
        Index("ix_insured_persons_tenant_jigyosho", "tenant_id", "jigyosho_id", "created_at"),
        # One holder per tenant of each 被保険者番号 (migration 0007; docs/koyo_hoken.md "被保険者番号").
        Index("uq_insured_persons_tenant_hihokensha_claim", "tenant_id", "hihokensha_claim", unique=True),
        Index("ix_insured_persons_tenant_hihokensha_key", "tenant_id", "hihokensha_key"),
        Index("ix_insured_persons_tenant_employee_number", "tenant_id", "employee_number"),
    )

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
    # Issue 6 (migration 0003): the fields of the 資格取得届 and of foreign workers.
    gender: Mapped[str | None] = mapped_column(String(10), nullable=True)  # male | female
    nationality: Mapped[str | None] = mapped_column(String(50), nullable=True)  # 国籍・地域 (JP = 日本)
    romaji_name: Mapped[str | None] = mapped_column(String(100), nullable=True)  # 被保険者氏名ローマ字
    residence_status: Mapped[str | None] = mapped_column(String(50), nullable=True)  # 在留資格
    residence_card_number: Mapped[str | None] = mapped_column(String(12), nullable=True)
    residence_period_end: Mapped[date | None] = mapped_column(Date, nullable=True)  # 在留期間
    outside_status_permission: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # 資格外活動許可
    dispatch_or_contract_work: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # 派遣・請負就労
    hihokensha_bango: Mapped[str | None] = mapped_column(String(13), nullable=True)  # 4-6-1 or legacy 4-6
    # The number's identity (rules.numbers.hihokensha_key: 4+6 digits, so a legacy number without
    # check digit is the same number), and the same value again where this person holds the
    # tenant's claim on it (unique per tenant); NULL where the number was entered by a user who
    # cannot see its holder (service.claim_number: that user's answer may not reveal the holder).
    hihokensha_key: Mapped[str | None] = mapped_column(String(10), nullable=True)
    hihokensha_claim: Mapped[str | None] = mapped_column(String(10), nullable=True)
    contract_end: Mapped[date | None] = mapped_column(Date, nullable=True)  # None = 期間の定めなし
    renewal_clause: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    employment_type: Mapped[str | None] = mapped_column(String(30), nullable=True)
    wage_payment: Mapped[str | None] = mapped_column(String(20), nullable=True)  # 支払の態様
    monthly_wage: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 賃金月額, yen
    job_type: Mapped[str | None] = mapped_column(String(50), nullable=True)  # 職種
    student: Mapped[str] = mapped_column(String(40), default="none", server_default="none")
    leave_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # 離職日
    my_number_sealed: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Issue 25 (migration 0008): the payroll system's 従業員番号, to match imported wage rows.
    employee_number: Mapped[str | None] = mapped_column(String(30), nullable=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict


class Procedure(Base):
    """One 届出 of one insured person, through its lifecycle (rules/procedures.py):
    draft → checked → ready → submitted → accepted / returned → completed, or withdrawn.

    `details` holds the fields of the kind (喪失原因, 離職理由, wage history, 転勤元...); the form data
    is built from it and the person when asked (never stored, so My Number is never copied)."""

    __tablename__ = "procedures"
    __table_args__ = (
        Index("ix_procedures_tenant_jigyosho_due", "tenant_id", "jigyosho_id", "due_date"),
        Index("ix_procedures_person", "tenant_id", "insured_person_id"),
        Index("ix_procedures_filing", "filing_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    insured_person_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    event_date: Mapped[date] = mapped_column(Date)  # 取得日 / 離職日 / 転勤日
    raw_due_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    deadline_rule: Mapped[str] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    proc_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    filing_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    filing_status: Mapped[str | None] = mapped_column(String(100), nullable=True)  # e-Gov's raw string
    # When that text was observed (the e-filing event's occurred_at): an older event arriving late
    # (redelivered after ack_wait) does not set it back.
    filing_status_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict


class EligibilityDecision(Base):
    """A person's current 雇用保険 eligibility decision (rules/eligibility.py), as last judged."""

    __tablename__ = "eligibility_decisions"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    insured_person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    insured: Mapped[bool] = mapped_column(Boolean)
    category: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reason_code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(300))
    rule_version: Mapped[str] = mapped_column(String(60))
    judged_on: Mapped[date] = mapped_column(Date)
    judged_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EligibilityChange(Base):
    """A person whose status a re-judgement for `as_of` changed, with the procedure it requires
    (rules/rejudgement.py). One per person and date: a re-run finds it and adds nothing."""

    __tablename__ = "eligibility_changes"
    __table_args__ = (
        Index("uq_eligibility_changes_person_as_of", "tenant_id", "insured_person_id", "as_of", unique=True),
        Index("ix_eligibility_changes_tenant_as_of", "tenant_id", "as_of", "jigyosho_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    insured_person_id: Mapped[str] = mapped_column(String(36))
    as_of: Mapped[date] = mapped_column(Date)
    previous_insured: Mapped[bool] = mapped_column(Boolean)
    insured: Mapped[bool] = mapped_column(Boolean)
    previous_rule_version: Mapped[str] = mapped_column(String(60))
    rule_version: Mapped[str] = mapped_column(String(60))
    reason_code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(300))
    procedure_kind: Mapped[str | None] = mapped_column(String(40), nullable=True)
    raw_due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    deadline_rule: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RejudgementSchedule(Base):
    """The scheduled re-judgement of a tenant for a rule change date, once done."""

    __tablename__ = "rejudgement_schedule"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    judged: Mapped[int] = mapped_column(Integer)
    changes: Mapped[int] = mapped_column(Integer)
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ImportMapping(Base):
    """A tenant's named CSV column mapping: {file header: Roumu column} (csv_io.py)."""

    __tablename__ = "import_mappings"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    target: Mapped[str] = mapped_column(String(20))  # persons | wages
    columns: Mapped[dict[str, str]] = mapped_column(JSON)
    default_action: Mapped[str | None] = mapped_column(String(10), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WageRecord(Base):
    """One imported wage of a person: a monthly wage by 賃金締切 period (kind `monthly`, with its
    支払基礎日数) or a bonus (kind `bonus`, period_start = period_end = the payment date)."""

    __tablename__ = "wage_records"
    __table_args__ = (
        Index("uq_wage_records_person_period", "tenant_id", "insured_person_id", "kind", "period_start", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    insured_person_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    basic_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 2), nullable=True)
    wages_a: Mapped[int] = mapped_column(Integer)
    wages_b: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
