"""Request and response bodies of the koyo_hoken API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.koyo_hoken.rules.eligibility import Student
from services.koyo_hoken.rules.forms import Kind
from services.koyo_hoken.rules.lifecycle import State
from services.koyo_hoken.rules.numbers import NumberFormatError, normalize_my_number, parse_hihokensha_bango
from shared.jp_text import is_katakana_name, to_fullwidth_katakana
from shared.paging import NEXT_DESCRIPTION
from shared.schema_types import DecimalText, one_of

# Full-width katakana, the long-vowel mark and the middle dot (foreign names). Half-width kana and
# hiragana are normalised to full-width katakana first (shared.jp_text.to_fullwidth_katakana).
KATAKANA = r"^[ァ-ヺー・\u3000]+$"
# Ids of other services' records (the 事業所 of accounts) are opaque strings to this service.
REF_ID = r"^[A-Za-z0-9-]{1,36}$"

Name = Annotated[str, Field(min_length=1, max_length=50)]
Gender = Literal["male", "female"]
EmploymentType = Literal["regular", "part_time", "fixed_term", "dispatched", "seasonal", "daily", "seafarer", "other"]
WagePayment = Literal["monthly", "weekly", "daily", "hourly", "other"]
# What the responses send, stored as text: documented as the same enums the requests take.
GenderText = Annotated[str, one_of(Gender.__args__)]
EmploymentTypeText = Annotated[str, one_of(EmploymentType.__args__)]
WagePaymentText = Annotated[str, one_of(WagePayment.__args__)]
StudentText = Annotated[str, one_of(Student)]
PersonStatusText = Annotated[str, one_of(["active", "left"])]
ProcedureStateText = Annotated[str, one_of(State)]


def _kana(v: str) -> str:
    out = to_fullwidth_katakana(v)
    if not (1 <= len(out) <= 50) or not is_katakana_name(out):
        raise ValueError("フリガナは全角カタカナで入力してください")
    return out


def _bango(v: str | None) -> str | None:
    if v is None or not v.strip():
        return None
    try:
        return parse_hihokensha_bango(v).formatted
    except NumberFormatError as e:
        raise ValueError(str(e)) from None


def normalize_my_number_or_error(v: str) -> str:
    try:
        return normalize_my_number(v)
    except NumberFormatError as e:
        raise ValueError(str(e)) from None


def _my_number(v: str | None) -> str | None:
    return None if v is None else normalize_my_number_or_error(v)


class PersonFields(BaseModel):
    """Fields an insured person has besides the required core (all optional on create)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    gender: Gender | None = None
    nationality: str | None = Field(default=None, max_length=50, description="国籍・地域 (JP = 日本)")
    romaji_name: str | None = Field(default=None, max_length=100, description="被保険者氏名ローマ字（外国人）")
    residence_status: str | None = Field(default=None, max_length=50, description="在留資格")
    residence_card_number: str | None = Field(default=None, pattern=r"^[A-Z]{2}[0-9]{8}[A-Z]{2}$",
                                              description="在留カード番号")
    residence_period_end: date | None = Field(default=None, description="在留期間（満了日）")
    outside_status_permission: bool | None = Field(default=None, description="資格外活動許可の有無")
    dispatch_or_contract_work: bool | None = Field(default=None, description="派遣・請負就労区分")
    hihokensha_bango: str | None = Field(default=None, description="雇用保険被保険者番号 4-6-1（旧番号 4-6 も可）",
                                         examples=["1234-567890-1"])
    contract_end: date | None = Field(default=None, description="契約期間の末日（期間の定めなしは null）")
    renewal_clause: bool = Field(default=False, description="契約更新条項の有無")
    employment_type: EmploymentType | None = None
    wage_payment: WagePayment | None = Field(default=None, description="賃金の支払の態様")
    monthly_wage: int | None = Field(default=None, ge=0, le=100_000_000, description="賃金月額（円）")
    job_type: str | None = Field(default=None, max_length=50, description="職種")
    student: Student = Field(default=Student.NONE, description="学生区分（昼間学生は原則対象外）")
    employee_number: str | None = Field(default=None, max_length=30, description="従業員番号（給与システムの番号）")

    @field_validator("hihokensha_bango")
    @classmethod
    def _b(cls, v: str | None) -> str | None:
        return _bango(v)


class InsuredPersonCreate(PersonFields):
    jigyosho_id: str = Field(pattern=REF_ID, examples=["5f0c9d7e-3b7a-4f53-9a51-0d9a6f1c2b11"])
    family_name: Name = Field(examples=["山田"])
    given_name: Name = Field(examples=["太郎"])
    family_name_kana: str = Field(examples=["ヤマダ"], description="全角カタカナ（半角・ひらがなは変換）")
    given_name_kana: str = Field(examples=["タロウ"])
    birth_date: date = Field(examples=["1990-04-01"])
    hire_date: date = Field(description="雇用開始日 (employment start)", examples=["2026-04-01"])
    weekly_hours: DecimalText = Field(ge=0, le=168, max_digits=5, decimal_places=2,
                                  description="週の所定労働時間", examples=["40"])
    my_number: str | None = Field(default=None, description="個人番号（12桁）。保存は暗号化、応答には含まれません",
                                  json_schema_extra={"writeOnly": True})

    @field_validator("family_name_kana", "given_name_kana")
    @classmethod
    def _k(cls, v: str) -> str:
        return _kana(v)

    @field_validator("my_number")
    @classmethod
    def _m(cls, v: str | None) -> str | None:
        return _my_number(v)

    @model_validator(mode="after")
    def _born_before_hired(self) -> InsuredPersonCreate:
        if self.hire_date <= self.birth_date:
            raise ValueError("雇用開始日は生年月日より後の日付にしてください")
        if self.contract_end is not None and self.contract_end < self.hire_date:
            raise ValueError("契約期間の末日は雇用開始日以降にしてください")
        return self


class InsuredPersonUpdate(BaseModel):
    """A partial update (send only what changes); `If-Match` with the current version."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    family_name: Name | None = None
    given_name: Name | None = None
    family_name_kana: str | None = None
    given_name_kana: str | None = None
    birth_date: date | None = None
    hire_date: date | None = None
    weekly_hours: DecimalText | None = Field(default=None, ge=0, le=168, max_digits=5, decimal_places=2)
    gender: Gender | None = None
    nationality: str | None = Field(default=None, max_length=50)
    romaji_name: str | None = Field(default=None, max_length=100)
    residence_status: str | None = Field(default=None, max_length=50)
    residence_card_number: str | None = Field(default=None, pattern=r"^[A-Z]{2}[0-9]{8}[A-Z]{2}$")
    residence_period_end: date | None = None
    outside_status_permission: bool | None = None
    dispatch_or_contract_work: bool | None = None
    hihokensha_bango: str | None = None
    contract_end: date | None = None
    renewal_clause: bool | None = None
    employee_number: str | None = Field(default=None, max_length=30)
    employment_type: EmploymentType | None = None
    wage_payment: WagePayment | None = None
    monthly_wage: int | None = Field(default=None, ge=0, le=100_000_000)
    job_type: str | None = Field(default=None, max_length=50)
    student: Student | None = None

    @field_validator("family_name_kana", "given_name_kana")
    @classmethod
    def _k(cls, v: str | None) -> str | None:
        return None if v is None else _kana(v)

    @field_validator("hihokensha_bango")
    @classmethod
    def _b(cls, v: str | None) -> str | None:
        return _bango(v)


class EfilingRequest(BaseModel):
    """Hand a ready procedure to e-filing: who files (申請者, 氏名 required) and, when the office
    has several linked e-Gov accounts, which one sends it."""

    model_config = ConfigDict(extra="forbid")

    applicant: dict[str, str] = Field(description="申請者 (構成管理XMLの申請者情報): 氏名 は必須",
                                      examples=[{"氏名": "社労士 花子", "法人団体名": "花子社会保険労務士事務所"}])
    egov_account_id: str | None = Field(default=None, pattern=REF_ID)


class MyNumberReceived(BaseModel):
    """The answer to a My Number intake: that it was taken, never the number."""

    insured_person_id: str
    my_number_registered: bool = True
    received_at: datetime


class MyNumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    my_number: str = Field(description="個人番号（12桁、検査用数字を確認します）",
                           json_schema_extra={"writeOnly": True})

    @field_validator("my_number")
    @classmethod
    def _m(cls, v: str) -> str:
        return normalize_my_number_or_error(v)


class MyNumberOut(BaseModel):
    """The unmasked number: only for holders of the my_number_unmasked grant, and recorded."""

    insured_person_id: str
    my_number: str


class EgovCharWarning(BaseModel):
    field: str
    position: int
    char: str
    reason: str


class InsuredPersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    jigyosho_id: str
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: date
    hire_date: date
    weekly_hours: DecimalText
    status: PersonStatusText
    gender: GenderText | None = None
    nationality: str | None = None
    romaji_name: str | None = None
    residence_status: str | None = None
    residence_card_number: str | None = None
    residence_period_end: date | None = None
    outside_status_permission: bool | None = None
    dispatch_or_contract_work: bool | None = None
    hihokensha_bango: str | None = None
    contract_end: date | None = None
    renewal_clause: bool = False
    employment_type: EmploymentTypeText | None = None
    wage_payment: WagePaymentText | None = None
    monthly_wage: int | None = None
    job_type: str | None = None
    student: StudentText = "none"
    employee_number: str | None = None
    leave_date: date | None = None
    my_number_registered: bool = False
    my_number_masked: str | None = Field(default=None, description="下4桁以外を * にした個人番号")
    egov_char_warnings: list[EgovCharWarning] = Field(default_factory=list,
                                                      description="e-Gov が受け付けない文字（氏名・フリガナ）")
    created_at: datetime
    updated_at: datetime | None = None
    version: int


class InsuredPersonPage(BaseModel):
    items: list[InsuredPersonOut]
    total: int
    limit: int
    offset: int
    next: str | None = Field(default=None, description=NEXT_DESCRIPTION)


class OtherJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekly_hours: DecimalText = Field(ge=0, le=168)
    expects_31_days: bool = True


class EligibilityRequest(BaseModel):
    """The facts of a planned (or current) employment."""

    model_config = ConfigDict(extra="forbid")

    on: date = Field(description="判定日（通常は雇用開始日）", examples=["2026-04-01"])
    birth_date: date
    weekly_hours: DecimalText = Field(ge=0, le=168, max_digits=5, decimal_places=2)
    employment_start: date | None = Field(default=None, description="省略時は判定日")
    contract_end: date | None = None
    renewal_clause: bool = False
    renewal_practice: bool = Field(default=False, description="同様の契約の更新実績")
    student: Student = Student.NONE
    other_jobs: list[OtherJobIn] = Field(default_factory=list, max_length=10,
                                         description="他の事業主での雇用（マルチジョブホルダー判定用）")


class MultiJobOut(BaseModel):
    may_apply: bool
    hours_here: Decimal
    hours_other: Decimal | None
    explanation: str


class EligibilityOut(BaseModel):
    insured: bool
    category: str | None
    reason_code: str
    reason: str
    rule_version: str
    weekly_hours_min: DecimalText
    age: int
    multi_job: MultiJobOut | None
    notes: list[str]


class WagePeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    end: date
    basic_days: int = Field(ge=0, le=31)
    wages_a: int = Field(ge=0)
    wages_b: int = Field(default=0, ge=0)
    total: int | None = Field(default=None, ge=0)
    hours: Decimal | None = Field(default=None, ge=0, le=744)


class SliceDaysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    basic_days: int = Field(ge=0, le=31)
    hours: Decimal | None = Field(default=None, ge=0, le=744)


class WageHistoryIn(BaseModel):
    """The wage history of a leaver (⑩–⑫ by 賃金締切 period) and, for non-monthly pay, the ⑨ days."""

    model_config = ConfigDict(extra="forbid")

    pay_type: Literal["monthly_full", "other"] = Field(description="monthly_full = 完全月給（暦日数で数える）")
    closing_day: int = Field(ge=1, le=31, description="賃金締切日（31 = 末日）")
    periods: list[WagePeriodIn] = Field(max_length=60)
    slice_days: list[SliceDaysIn] = Field(default_factory=list, max_length=60)


class RishokuPreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rishoku_date: date
    insured_since: date | None = None
    tokutei: bool = Field(default=False, description="特定受給資格者・特定理由離職者（1年間に6か月）")
    wage_history: WageHistoryIn


class InsuredRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: date
    end: date
    basic_days: int | None
    hours: Decimal | None
    days_source: str
    fragment: bool
    counts: Decimal


class WageRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: date
    end: date
    basic_days: int
    wages_a: int
    wages_b: int
    total: int
    complete: bool
    qualifying: bool


class CertificateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rishoku_date: date
    rule_version: str
    insured_rows: list[InsuredRowOut]
    wage_rows: list[WageRowOut]
    counted_months: Decimal
    required_months: int
    window_years: int
    requirement_shown: bool
    qualifying_wage_rows: int
    wage_rows_sufficient: bool
    sheets: int
    flags: list[str]


class ProcedureDetails(BaseModel):
    """The fields of one kind (see docs/koyo_hoken.md for which kind needs which)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    jigyosho_number: str | None = Field(default=None, description="雇用保険適用事業所番号 4-6-1",
                                        examples=["1301-123456-7"])
    cause: str | None = Field(default=None, pattern=r"^[0-9]$",
                              description="取得: 被保険者となったことの原因 1–4 / 喪失: 喪失原因 1–3")
    rishoku_reason_code: str | None = Field(default=None, pattern=r"^[0-9][A-Z]?$",
                                            description="離職区分コード（例 2A）")
    tokutei: bool = False
    wage_history: WageHistoryIn | None = None
    from_jigyosho_id: str | None = Field(default=None, pattern=REF_ID, description="転勤前の事業所")
    from_jigyosho_number: str | None = Field(default=None, description="転勤前の事業所番号")


class ProcedureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    insured_person_id: str = Field(pattern=REF_ID)
    kind: Literal["shikaku_shutoku", "shikaku_soshitsu", "tenkin"]
    event_date: date = Field(description="取得日 / 離職日 / 転勤日")
    with_rishoku_shomeisho: bool = Field(default=False, description="喪失届: 離職証明書を添付する（離職票交付あり）")
    to_jigyosho_id: str | None = Field(default=None, pattern=REF_ID, description="転勤届: 転勤先の事業所")
    details: ProcedureDetails = Field(default_factory=ProcedureDetails)


class ProcedureUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_date: date | None = None
    details: ProcedureDetails | None = None


class ProblemItem(BaseModel):
    field: str
    message: str
    severity: Literal["error", "warning"]


class ProcedureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    jigyosho_id: str
    insured_person_id: str
    kind: Kind
    state: ProcedureStateText
    event_date: date
    raw_due_date: date
    due_date: date
    deadline_rule: str
    details: dict[str, Any]
    problems: list[ProblemItem]
    proc_id: str | None
    filing_id: str | None
    filing_status: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class ProcedurePage(BaseModel):
    items: list[ProcedureOut]
    total: int
    limit: int
    offset: int
    next: str | None = Field(default=None, description=NEXT_DESCRIPTION)


class TransitionIn(BaseModel):
    """A manual state change (a paper filing, or a correction noted by hand)."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["submitted", "accepted", "returned", "completed", "withdrawn"]
    reason: str | None = Field(default=None, max_length=200)


class FormDataOut(BaseModel):
    procedure_id: str
    proc_id: str
    title: str
    forms: list[dict[str, Any]]
    my_number_included: bool


class DeadlineItem(BaseModel):
    jigyosho_id: str
    insured_person_id: str
    procedure_id: str | None = Field(description="null: the procedure has not been created yet")
    kind: str
    state: str | None
    event_date: date
    raw_due_date: date
    due_date: date
    due_state: Literal["overdue", "due_soon", "upcoming"]
    days_left: int


class DeadlinePage(BaseModel):
    today: date
    items: list[DeadlineItem]
    total: int
    limit: int
    offset: int


class DeadlineSummaryRow(BaseModel):
    jigyosho_id: str
    overdue: int
    due_soon: int
    upcoming: int


class DeadlineSummary(BaseModel):
    today: date
    jigyosho: list[DeadlineSummaryRow]


class ImportRowError(BaseModel):
    row: int = Field(description="CSV line number (the header is line 1)")
    field: str
    message: str


class ImportResult(BaseModel):
    mode: Literal["all_or_nothing", "partial"]
    rows: int
    imported_persons: int
    created_procedures: int
    errors: list[ImportRowError]
    encoding: str = Field(default="utf-8", description="検出した文字コード: utf-8-sig / utf-8 / cp932")
    mapping: str = Field(default="roumu", description="使った列マッピング")
