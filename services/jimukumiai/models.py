"""Tables of the jimukumiai service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Index, Integer, String, UniqueConstraint, text
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


MEMBER_KINDS = ("entrusted", "client")


class Member(Base):
    """An employer whose labour insurance the tenant handles. `kind` `entrusted`: a 委託事業主 that
    entrusted its labour insurance affairs to the 事務組合 (the association's books, its run, 延納
    always, 11/14 and 2/14). `client` (issue 25): a client employer of the 社労士 office outside the
    association — its own 年度更新 run, 延納 only from 400,000 円 (200,000 円 with one insurance),
    10/31 and 1/31; `entrusted_from` / `entrusted_until` are then the span the office serves it."""

    __tablename__ = "members"
    __table_args__ = (
        # One 労働保険番号 is one 労働保険関係: it can be entrusted to a tenant only once.
        UniqueConstraint("tenant_id", "labour_insurance_number", name="uq_members_tenant_lin"),
        Index("ix_members_tenant_created", "tenant_id", "created_at"),
        Index("ix_members_tenant_kind", "tenant_id", "kind"),
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
    # Added with issue 25 (migration 0008): entrusted | client; never changes after registration.
    kind: Mapped[str] = mapped_column(String(20), default="entrusted", server_default="entrusted")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # Added with issue 7 (migration 0003): nullable for members registered before; the API
    # requires the size fields of every new member.
    entrusted_until: Mapped[date | None] = mapped_column(Date, nullable=True)  # 委託解除日
    entrusted_scope: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # 委託された事務の範囲
    regular_workers: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 常時使用労働者数
    insured_workers: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 雇用保険被保険者数
    main_business: Mapped[str | None] = mapped_column(String(20), nullable=True)  # size-limit category
    rousai_code: Mapped[str | None] = mapped_column(String(2), nullable=True)  # 労災 事業の種類 (None: 雇用のみ)
    koyo_kubun: Mapped[str | None] = mapped_column(String(20), nullable=True)  # 雇用 事業区分 (None: 労災のみ)
    branch_number: Mapped[str | None] = mapped_column(String(3), nullable=True)  # 事務組合の枝番号
    established_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # 保険関係成立日
    owner_address: Mapped[str | None] = mapped_column(String(300), nullable=True)  # 事業主の住所
    business_name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # 事業の名称
    business_address: Mapped[str | None] = mapped_column(String(300), nullable=True)  # 事業の所在地
    business_kind: Mapped[str | None] = mapped_column(String(100), nullable=True)  # 事業の種類 (text)
    # 口座 for later collection (口座振替) files. Never in events.
    bank_code: Mapped[str | None] = mapped_column(String(4), nullable=True)
    bank_branch_code: Mapped[str | None] = mapped_column(String(3), nullable=True)
    account_type: Mapped[str | None] = mapped_column(String(10), nullable=True)
    account_number: Mapped[str | None] = mapped_column(String(7), nullable=True)
    account_holder_kana: Mapped[str | None] = mapped_column(String(60), nullable=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a plain dict


class Association(Base):
    """The 労働保険事務組合 itself (one per tenant): its own 労働保険番号."""

    __tablename__ = "associations"

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    labour_insurance_number: Mapped[str] = mapped_column(String(14))
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class SpecialEnrolment(Base):
    """A 第1種特別加入者 of a member (中小事業主, 役員 or 家族従事者) for one span at one 給付基礎日額.
    A change of 日額 ends the span and starts another (the premium of each year follows the spans)."""

    __tablename__ = "special_enrolments"
    __table_args__ = (Index("ix_special_enrolments_member", "tenant_id", "member_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str] = mapped_column(String(36))
    person_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    daily_amount: Mapped[int] = mapped_column(Integer)
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class WageReport(Base):
    """A member's 賃金総額 for one fiscal year (the 確定 year) and the figures the next 年度更新 needs."""

    __tablename__ = "wage_reports"
    __table_args__ = (UniqueConstraint("tenant_id", "member_id", "fiscal_year", name="uq_wage_reports_member_year"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str] = mapped_column(String(36))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    rousai_wages: Mapped[int] = mapped_column(BigInteger)
    koyo_wages: Mapped[int] = mapped_column(BigInteger)
    paid_estimate: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: from the last run
    estimated_rousai_wages: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # next year
    estimated_koyo_wages: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    excess_use: Mapped[str] = mapped_column(String(30))
    installments_requested: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20))  # entered | csv | koyo_hoken
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class RenewalRun(Base):
    """One 年度更新 run over the members of one kind (the association's 委託事業主, or the office's
    clients) of a fiscal year."""

    __tablename__ = "renewal_runs"
    __table_args__ = (
        Index("ix_renewal_runs_tenant_year", "tenant_id", "fiscal_year"),
        # One unfinished run per tenant and year: a second run of the year is refused at the
        # insert (409 naming the running one) instead of computing the same members twice.
        Index("uq_renewal_runs_running", "tenant_id", "fiscal_year", "kind", unique=True,
              sqlite_where=text("finished_at IS NULL"), postgresql_where=text("finished_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    # Added with issue 25 (migration 0008): the kind of member the run renews (entrusted | client).
    kind: Mapped[str] = mapped_column(String(20), default="entrusted", server_default="entrusted")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    computed: Mapped[int] = mapped_column(Integer)
    already_renewed: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    actor_id: Mapped[str] = mapped_column(String(64))
    # Set at the start and with every chunk committed: a run whose process died stops beating, and
    # after ROUMU_JIMUKUMIAI_RENEWAL_RUN_STALE_SECONDS the next run of the year closes it and starts.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Renewal(Base):
    """The 年度更新 result of one member for one fiscal year (the calculator's RenewalOut as JSON)."""

    __tablename__ = "renewals"
    __table_args__ = (UniqueConstraint("tenant_id", "member_id", "fiscal_year", name="uq_renewals_member_year"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[str] = mapped_column(String(36))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    estimate_total: Mapped[int] = mapped_column(BigInteger)  # the 概算: next year's 申告済概算
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LedgerEntry(Base):
    """A line of the 労働保険料等徴収及び納付簿. Append-only: never updated (a trigger refuses it);
    a correction is a new entry of the same kind with the opposite amount naming the one it
    reverses, and then, if needed, a new entry. Rows leave only by retention or the tenant purge:
    a second trigger refuses a DELETE that no LedgerPurgePermit of the same transaction covers.

    Kinds: owed by the member — `estimate` (a period's share of the 概算, net of 充当),
    `shortage` (不足額 of the past year), `general_contribution` (一般拠出金, net of 充当);
    facts — `confirmed` (確定保険料), `appropriated` (充当 of an 超過額), `refund_claimed` (還付請求);
    money — `collected` (from the member), `paid_to_state`, `refund_received`, `refund_paid`."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_member_year", "tenant_id", "member_id", "fiscal_year"),
        Index("ix_ledger_entries_tenant_due", "tenant_id", "due_on"),
        UniqueConstraint("reverses_id", name="uq_ledger_entries_reverses_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str] = mapped_column(String(36))
    fiscal_year: Mapped[int] = mapped_column(Integer)  # the premium year the amount belongs to
    kind: Mapped[str] = mapped_column(String(30))
    period: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 期 (1..3)
    amount: Mapped[int] = mapped_column(BigInteger)  # 円; negative only in a reversal
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    occurred_on: Mapped[date] = mapped_column(Date)
    reverses_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    renewal_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    note: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[str] = mapped_column(String(64))


class DueNotice(Base):
    """An owed ledger entry whose installment.due event was published (once per entry)."""

    __tablename__ = "due_notices"

    entry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    notified_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FilingBookEntry(Base):
    """A line of the 雇用保険被保険者関係届出事務等処理簿: one 雇用保険 届出 (a koyo_hoken procedure)
    of a member's 事業所, built from roumu.koyo_hoken.procedure.* and roumu.efiling.filing.* events.
    Ids, kinds, dates and states only: the 被保険者 is the koyo_hoken id (its name and number stay
    in koyo_hoken; never My Number). Lines leave by retention (4 years) or the tenant purge."""

    __tablename__ = "filing_book_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "procedure_id", name="uq_filing_book_entries_procedure"),
        Index("ix_filing_book_entries_tenant_received", "tenant_id", "received_on"),
        Index("ix_filing_book_entries_member", "tenant_id", "member_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str] = mapped_column(String(36))
    jigyosho_id: Mapped[str] = mapped_column(String(36))
    procedure_id: Mapped[str] = mapped_column(String(100))  # koyo_hoken's id (efiling's idempotency_key)
    insured_person_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(40), nullable=True)  # 届出の種類 (koyo_hoken kind)
    received_on: Mapped[date] = mapped_column(Date)  # 受付日: the procedure was started
    submitted_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # 提出日 (e-Gov 到達日 when known)
    processed_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # 処理日: completed / 公文書 received
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # ended (completed or withdrawn)
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)  # koyo_hoken state
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    filing_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filing_status: Mapped[str | None] = mapped_column(String(30), nullable=True)  # efiling status
    filing_status_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    arrive_id: Mapped[str | None] = mapped_column(String(18), nullable=True)  # e-Gov 到達番号
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LedgerPurgePermit(Base):
    """Leave to delete ledger_entries, inside one transaction only. The ledger's DELETE trigger
    refuses a row no permit covers; the retention job and the tenant purge insert a permit, delete,
    and remove the permit before they commit, so no permit is ever visible outside its transaction.
    `member_id` / `fiscal_year` None = every member / year of the tenant (the tenant purge)."""

    __tablename__ = "ledger_purge_permits"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    fiscal_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(String(20))  # retention | tenant_purge
