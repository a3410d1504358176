"""Request and response bodies of the jimukumiai API."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.jimukumiai.rules.nendo_koshin import ExcessUse
from services.jimukumiai.rules.rates import KoyoKubun
from services.jimukumiai.rules.size_limits import MainBusiness

# Ids of other services' records (the 事業所 of accounts) are opaque strings to this service.
REF_ID = r"^[A-Za-z0-9-]{1,36}$"

# Forms print the number as 13-1-01-123456-000; people paste it that way, so separators go.
_SEPARATORS = re.compile(r"[-‐－―ー\s]")
ROUSAI_CODE = r"^[0-9]{2}$"
LIN_DESCRIPTION = "労働保険番号: 府県2+所掌1+管轄2+基幹番号6+枝番号3 (14 digits; hyphens are removed)"


def normalise_number(v: object) -> object:
    # Only separators and full-width digits are normalised; the pattern then checks the rest.
    if isinstance(v, str):
        return _SEPARATORS.sub("", v).translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    return v


class Scope(StrEnum):
    """委託された事務の範囲 (徴収法33条, 則62条; DOMAIN.md B9)."""

    PREMIUMS = "premiums"  # 概算・確定・増加概算保険料, 一般拠出金の申告・納付
    INSURANCE_RELATION = "insurance_relation"  # 保険関係成立届, 任意加入申請, 雇用保険 事業所設置届
    KOYO_NOTIFICATIONS = "koyo_notifications"  # 雇用保険被保険者に関する届出
    SPECIAL_ENROLMENT = "special_enrolment"  # 労災 特別加入の申請・変更・脱退
    OTHER = "other"  # その他の労働保険の申請・届出・報告


class AccountType(StrEnum):
    ORDINARY = "ordinary"  # 普通
    CURRENT = "current"  # 当座
    SAVINGS = "savings"  # 貯蓄


class BankAccount(BaseModel):
    """The member's account for later collection (口座振替) files."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, from_attributes=True)

    bank_code: str = Field(pattern=r"^[0-9]{4}$", description="金融機関コード")
    bank_branch_code: str = Field(pattern=r"^[0-9]{3}$", description="支店コード")
    account_type: AccountType
    account_number: str = Field(pattern=r"^[0-9]{7}$", description="口座番号 (7 digits)")
    account_holder_kana: str = Field(min_length=1, max_length=60, description="口座名義 (カナ)")


class MemberFields(BaseModel):
    """What a 委託事業主 record holds besides its identity (shared by create and update)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    entrusted_until: date | None = Field(default=None, description="委託解除日 (the last day entrusted)")
    entrusted_scope: list[Scope] = Field(default_factory=lambda: [Scope.PREMIUMS, Scope.INSURANCE_RELATION,
                                                                  Scope.KOYO_NOTIFICATIONS],
                                         max_length=5, description="委託された事務の範囲")
    insured_workers: int | None = Field(default=None, ge=0, le=1_000_000, description="雇用保険被保険者数")
    rousai_code: str | None = Field(default=None, pattern=ROUSAI_CODE,
                                    description="労災 事業の種類 (2 digits); null: 雇用保険のみ", examples=["94"])
    koyo_kubun: KoyoKubun | None = Field(default=None, description="雇用保険 事業区分; null: 労災保険のみ")
    branch_number: str | None = Field(default=None, pattern=r"^[0-9]{3}$", description="事務組合の枝番号")
    established_on: date | None = Field(default=None, description="保険関係成立日")
    owner_address: str | None = Field(default=None, max_length=300, description="事業主の住所")
    business_name: str | None = Field(default=None, max_length=200, description="事業の名称")
    business_address: str | None = Field(default=None, max_length=300, description="事業の所在地")
    business_kind: str | None = Field(default=None, max_length=100, description="事業の種類")
    bank_account: BankAccount | None = None


class MemberCreate(MemberFields):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    jigyosho_id: str = Field(pattern=REF_ID, examples=["5f0c9d7e-3b7a-4f53-9a51-0d9a6f1c2b11"])
    name: str = Field(min_length=1, max_length=200, description="事業主の名称", examples=["株式会社山田製作所"])
    labour_insurance_number: str = Field(pattern=r"^[0-9]{14}$", description=LIN_DESCRIPTION,
                                         examples=["13101123456000"])
    entrusted_from: date = Field(description="委託開始日", examples=["2026-04-01"])
    regular_workers: int = Field(ge=0, le=1_000_000, description="常時使用労働者数 (whole enterprise)")
    main_business: MainBusiness = Field(description="主たる事業: the size limit's category (50 / 100 / 300)")

    @field_validator("labour_insurance_number", mode="before")
    @classmethod
    def _strip_separators(cls, v: object) -> object:
        return normalise_number(v)

    @model_validator(mode="after")
    def _an_insurance(self) -> MemberCreate:
        if self.rousai_code is None and self.koyo_kubun is None:
            raise ValueError("rousai_code or koyo_kubun (or both) must be given")
        return self


class ClientCreate(BaseModel):
    """A client employer of the 社労士 office outside the 事務組合 (issue 25): its labour insurance
    the office handles under its own 労働保険番号. No size limit, no 委託 scope, no 事務組合 枝番号;
    its 年度更新 runs in the office's run (延納 from 400,000 円, 10/31 and 1/31)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    jigyosho_id: str = Field(pattern=REF_ID, examples=["5f0c9d7e-3b7a-4f53-9a51-0d9a6f1c2b11"])
    name: str = Field(min_length=1, max_length=200, description="事業主の名称", examples=["株式会社山田製作所"])
    labour_insurance_number: str = Field(pattern=r"^[0-9]{14}$", description=LIN_DESCRIPTION,
                                         examples=["13101654321000"])
    client_from: date = Field(description="the day the office began to serve the employer (受任日)",
                              examples=["2026-04-01"])
    client_until: date | None = Field(default=None, description="the last day served (契約終了日)")
    rousai_code: str | None = Field(default=None, pattern=ROUSAI_CODE,
                                    description="労災 事業の種類 (2 digits); null: 雇用保険のみ", examples=["94"])
    koyo_kubun: KoyoKubun | None = Field(default=None, description="雇用保険 事業区分; null: 労災保険のみ")
    established_on: date | None = Field(default=None, description="保険関係成立日")
    regular_workers: int | None = Field(default=None, ge=0, le=1_000_000, description="常時使用労働者数")
    insured_workers: int | None = Field(default=None, ge=0, le=1_000_000, description="雇用保険被保険者数")
    owner_address: str | None = Field(default=None, max_length=300, description="事業主の住所")
    business_name: str | None = Field(default=None, max_length=200, description="事業の名称")
    business_address: str | None = Field(default=None, max_length=300, description="事業の所在地")
    business_kind: str | None = Field(default=None, max_length=100, description="事業の種類")

    @field_validator("labour_insurance_number", mode="before")
    @classmethod
    def _strip_separators(cls, v: object) -> object:
        return normalise_number(v)

    @model_validator(mode="after")
    def _an_insurance(self) -> ClientCreate:
        if self.rousai_code is None and self.koyo_kubun is None:
            raise ValueError("rousai_code or koyo_kubun (or both) must be given")
        if self.client_until is not None and self.client_until < self.client_from:
            raise ValueError("client_until is before client_from")
        return self


class MemberUpdate(BaseModel):
    """Fields to change (If-Match); absent fields stay. `over_limit_temporarily` lets a worker count
    above the size limit stand (a temporary excess does not matter, 則62条2項)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    regular_workers: int | None = Field(default=None, ge=0, le=1_000_000)
    main_business: MainBusiness | None = None
    insured_workers: int | None = Field(default=None, ge=0, le=1_000_000)
    entrusted_scope: list[Scope] | None = Field(default=None, max_length=5)
    rousai_code: str | None = Field(default=None, pattern=ROUSAI_CODE)
    koyo_kubun: KoyoKubun | None = None
    branch_number: str | None = Field(default=None, pattern=r"^[0-9]{3}$")
    established_on: date | None = None
    owner_address: str | None = Field(default=None, max_length=300)
    business_name: str | None = Field(default=None, max_length=200)
    business_address: str | None = Field(default=None, max_length=300)
    business_kind: str | None = Field(default=None, max_length=100)
    bank_account: BankAccount | None = None
    over_limit_temporarily: bool = False


class MemberLeave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entrusted_until: date = Field(description="委託解除日 (the last day entrusted)")


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    jigyosho_id: str
    name: str
    labour_insurance_number: str
    entrusted_from: date = Field(description="委託開始日 (a client: the day the office began to serve it)")
    status: str
    kind: str = Field(default="entrusted", description="entrusted: 委託事業主 of the 事務組合; client: a client "
                                                         "employer of the 社労士 office outside it")
    created_at: datetime
    version: int
    entrusted_until: date | None
    entrusted_scope: list[str] | None
    regular_workers: int | None
    insured_workers: int | None
    main_business: str | None
    rousai_code: str | None
    koyo_kubun: str | None
    branch_number: str | None
    established_on: date | None
    owner_address: str | None
    business_name: str | None
    business_address: str | None
    business_kind: str | None
    bank_account: BankAccount | None = None
    special_enrolment: bool = Field(default=False, description="特別加入者 enrolled today")

    @model_validator(mode="before")
    @classmethod
    def _bank(cls, v: object) -> object:
        if not isinstance(v, dict) and getattr(v, "bank_code", None):
            # An ORM row: the account is five columns, answered as one object.
            data = {k: getattr(v, k) for k in cls.model_fields if k not in ("bank_account", "special_enrolment")}
            data["bank_account"] = BankAccount.model_validate(v)
            return data
        return v


class MemberPage(BaseModel):
    items: list[MemberOut]
    total: int
    limit: int
    offset: int


class AssociationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, description="事務組合の名称")
    labour_insurance_number: str = Field(pattern=r"^[0-9]{14}$", description="事務組合の" + LIN_DESCRIPTION)
    address: str | None = Field(default=None, max_length=300)

    @field_validator("labour_insurance_number", mode="before")
    @classmethod
    def _strip_separators(cls, v: object) -> object:
        return normalise_number(v)


class AssociationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tenant_id: str
    name: str
    labour_insurance_number: str
    address: str | None
    updated_at: datetime
    version: int


class SpecialRole(StrEnum):
    OWNER = "owner"  # 中小事業主
    OFFICER = "officer"  # 役員
    FAMILY = "family"  # 家族従事者


class SpecialEnrolmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person_name: str = Field(min_length=1, max_length=100, description="特別加入者の氏名")
    role: SpecialRole
    daily_amount: int = Field(description="給付基礎日額 (one of the 16 levels)", examples=[10000])
    joined_on: date = Field(description="承認日 (coverage starts)")


class SpecialEnrolmentLeave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    left_on: date = Field(description="脱退日 (first day no longer covered)")


class SpecialEnrolmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    member_id: str
    person_name: str
    role: str
    daily_amount: int
    joined_on: date
    left_on: date | None
    version: int


class WageSource(StrEnum):
    ENTERED = "entered"
    CSV = "csv"
    KOYO_HOKEN = "koyo_hoken"


class WageReportIn(BaseModel):
    """A member's wages of one fiscal year (the 確定 year) and the choices for the next renewal."""

    model_config = ConfigDict(extra="forbid")

    rousai_wages: int = Field(ge=0, le=10**13, description="賃金総額, all workers (円, as paid)")
    koyo_wages: int = Field(ge=0, le=10**13, description="賃金総額, 雇用保険被保険者 only (円)")
    paid_estimate: int | None = Field(default=None, ge=0, le=10**13,
                                      description="申告済概算保険料 of that year; null: the 概算 of the last run")
    estimated_rousai_wages: int | None = Field(default=None, ge=0, le=10**13,
                                               description="estimate for the next year")
    estimated_koyo_wages: int | None = Field(default=None, ge=0, le=10**13)
    excess_use: ExcessUse = ExcessUse.PREMIUM
    installments_requested: bool = True
    source: WageSource = WageSource.ENTERED


class WageReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    member_id: str
    fiscal_year: int
    rousai_wages: int
    koyo_wages: int
    paid_estimate: int | None
    estimated_rousai_wages: int | None
    estimated_koyo_wages: int | None
    excess_use: str
    installments_requested: bool
    source: str
    updated_at: datetime
    version: int


class WageImportOut(BaseModel):
    imported: int
    errors: list[dict[str, object]]


class RenewalRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fiscal_year: int = Field(ge=2000, le=2100, description="the new 年度 (概算); 確定 for the year before",
                             examples=[2025])


class SkippedMember(BaseModel):
    member_id: str
    reason: str


class RenewalRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    fiscal_year: int
    kind: str = Field(default="entrusted", description="whose run: entrusted (the 事務組合's 委託事業主) or "
                                                         "client (the 社労士 office's clients)")
    started_at: datetime
    finished_at: datetime | None
    computed: int = Field(description="members renewed by this run")
    already_renewed: int = Field(description="members renewed by an earlier run, left alone")
    skipped: list[SkippedMember] = Field(description="members that could not be renewed, and why")


class LedgerKind(StrEnum):
    COLLECTED = "collected"  # 事業主から徴収
    PAID_TO_STATE = "paid_to_state"  # 国へ納付
    REFUND_RECEIVED = "refund_received"  # 還付金の受領
    REFUND_PAID = "refund_paid"  # 事業主への還付


class LedgerEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: LedgerKind
    fiscal_year: int = Field(ge=2000, le=2100, description="the premium year the money belongs to")
    period: int | None = Field(default=None, ge=1, le=3, description="期, when the money is for one")
    amount: int = Field(gt=0, le=10**13, description="円")
    occurred_on: date = Field(description="the day the money moved")
    note: str | None = Field(default=None, max_length=300)


class IncreaseBookingIn(BaseModel):
    """A member's new wage estimate for a year whose 概算 was filed in its 年度更新."""

    model_config = ConfigDict(extra="forbid")

    fiscal_year: int = Field(ge=2000, le=2100)
    new_rousai_wages: int | None = Field(default=None, ge=0, le=10**13, description="労災: the new estimate, 円")
    new_koyo_wages: int | None = Field(default=None, ge=0, le=10**13, description="雇用: the new estimate, 円")
    expected_on: date = Field(description="the day the increase was expected (the 30 days run from the next day)")


class ReversalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_on: date | None = Field(default=None, description="the day of the correction (default: today)")
    note: str | None = Field(default=None, max_length=300, description="why")


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    member_id: str
    fiscal_year: int
    kind: str
    period: int | None
    amount: int
    due_on: date | None
    occurred_on: date
    reverses_id: str | None
    renewal_id: str | None
    note: str | None
    created_at: datetime


class OutstandingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_id: str
    fiscal_year: int
    kind: str
    period: int | None
    due_on: date
    amount: int


class LedgerOut(BaseModel):
    entries: list[LedgerEntryOut]
    outstanding: list[OutstandingOut] = Field(description="owed and not yet collected (oldest due paid first)")


class ArrearsRow(BaseModel):
    member_id: str
    name: str
    labour_insurance_number: str
    amount: int = Field(description="滞納額: due by `as_of` and not collected")
    oldest_due_on: date
    items: list[OutstandingOut]


class ArrearsOut(BaseModel):
    as_of: date
    total: int
    items: list[ArrearsRow]


class DueNoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(default=None, description="default: today")
    horizon_days: int = Field(default=14, ge=0, le=120)


class DueNoticeOut(BaseModel):
    published: int


class RewardEstimateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    fiscal_year: int
    counted_members: int = Field(description="委託事業主 with 常時15人以下 and a 確定 of the year before")
    confirmed_due: int
    paid: int
    collection_rate: str
    qualifies: bool = Field(description="≥ 95 % paid by 7/10")
    premium_part: int
    per_business_part: int
    amount: int
    capped: bool
    application_deadline: date
