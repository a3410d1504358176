"""Request and response bodies of the shakai_hoken API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from services.shakai_hoken.rules.months import Month
from services.shakai_hoken.rules.premiums import Rounding
from services.shakai_hoken.rules.rates import KYOKAI_RATES
from services.shakai_hoken.rules.teiji import WorkerType
from shared.schema_types import one_of

REF_ID = r"^[A-Za-z0-9-]{1,36}$"
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
Yen = Annotated[int, Field(ge=0, le=1_000_000_000)]
InsurerKind = Literal["kyokai", "kumiai"]
CollectionTiming = Literal["next_month", "same_month"]
Reason = Literal["teiji", "zuiji", "leave_end", "correction"]
# A rate in per cent with up to 3 decimals (組合 often publish per mille: 46.15‰ = 4.615 %).
RateText = Annotated[Decimal, WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,2}(\.[0-9]{1,3})?$",
                                              "examples": ["9.85", "4.615"]})]


def month_of(text: str) -> Month:
    return Month.parse(text)


class KumiaiRateIn(BaseModel):
    """One dated row of a 健康保険組合's own rates (per cent; the employee part may be under half)."""

    model_config = ConfigDict(extra="forbid")
    effective_from: str = Field(pattern=MONTH, description="最初の保険料月 (YYYY-MM)", examples=["2026-03"])
    health_rate: RateText = Field(gt=0, le=30, max_digits=6, decimal_places=3)
    health_employee_rate: RateText = Field(ge=0, le=30, max_digits=6, decimal_places=3)
    kaigo_rate: RateText = Field(ge=0, le=10, max_digits=6, decimal_places=3)
    kaigo_employee_rate: RateText = Field(ge=0, le=10, max_digits=6, decimal_places=3)

    @model_validator(mode="after")
    def _employee_within_total(self) -> KumiaiRateIn:
        if self.health_employee_rate > self.health_rate or self.kaigo_employee_rate > self.kaigo_rate:
            raise ValueError("被保険者負担分は保険料率以下にしてください")
        return self


class OfficeIn(BaseModel):
    """A 事業所's 社会保険 data. `insurer_kind=kyokai` needs `prefecture` (協会けんぽ 支部, JIS code);
    `kumiai` needs `kumiai_name` and at least one dated row of `kumiai_rates`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    seiri_kigo: str = Field(min_length=1, max_length=20, description="事業所整理記号", examples=["01-イロハ"])
    office_number: str = Field(pattern=r"^[0-9]{1,10}$", description="事業所番号", examples=["12345"])
    insurer_kind: InsurerKind
    prefecture: str | None = Field(default=None, pattern=r"^[0-9]{2}$", examples=["13"])
    kumiai_name: str | None = Field(default=None, min_length=1, max_length=100)
    kumiai_rates: list[KumiaiRateIn] = Field(default_factory=list, max_length=50)
    tokutei_tekiyo: bool = Field(default=False, description="特定適用事業所")
    collection_timing: CollectionTiming = Field(default="next_month", description="翌月徴収 / 当月徴収")
    rounding: Rounding = Field(default=Rounding.DEDUCT, description="被保険者負担分の端数処理")

    @model_validator(mode="after")
    def _insurer(self) -> OfficeIn:
        if self.insurer_kind == "kyokai":
            if self.prefecture is None or self.prefecture not in KYOKAI_RATES:
                raise ValueError("協会けんぽの事業所は都道府県コード (01〜47) が必要です")
            if self.kumiai_name or self.kumiai_rates:
                raise ValueError("協会けんぽの事業所に健康保険組合の料率は指定できません")
        else:
            if not self.kumiai_name or not self.kumiai_rates:
                raise ValueError("健康保険組合の事業所は組合名と保険料率が必要です")
            if self.prefecture is not None:
                raise ValueError("健康保険組合の事業所に協会けんぽの支部は指定できません")
            months = [r.effective_from for r in self.kumiai_rates]
            if len(set(months)) != len(months):
                raise ValueError("同じ月からの保険料率が重複しています")
        return self


class OfficeOut(OfficeIn):
    model_config = ConfigDict(extra="ignore")
    jigyosho_id: str
    version: int
    updated_at: datetime


class EnrolmentCreate(BaseModel):
    """資格取得: a person koyo_hoken knows (its insured_person_id), the 取得日 and the 報酬月額 of the
    資格取得時決定 (DOMAIN-SHAHO.md §8). The birth date drives the age rules (介護, 70, 75)."""

    model_config = ConfigDict(extra="forbid")
    insured_person_id: str = Field(pattern=REF_ID)
    birth_date: date
    acquired_on: date = Field(description="資格取得日")
    remuneration: Yen = Field(description="資格取得時の報酬月額")
    worker_type: WorkerType = WorkerType.ORDINARY
    kenpo: bool = True
    kounen: bool = True

    @model_validator(mode="after")
    def _dates(self) -> EnrolmentCreate:
        if self.birth_date >= self.acquired_on:
            raise ValueError("生年月日は資格取得日より前にしてください")
        if self.acquired_on < date(2020, 9, 1):
            raise ValueError("2020-09-01 より前の資格取得は登録できません（等級表のデータがありません）")
        if not (self.kenpo or self.kounen):
            raise ValueError("健康保険・厚生年金保険のどちらかは必要です")
        return self


class DeadlineOut(BaseModel):
    procedure: str
    base_date: date
    raw: date | None
    due: date | None
    shifted_by: str
    source: str


class GradeOut(BaseModel):
    effective_from: str = Field(pattern=MONTH)
    reason: str
    remuneration: int
    kenpo_grade: int
    kenpo_standard: int
    kounen_grade: int
    kounen_standard: int


class EnrolmentOut(BaseModel):
    id: str
    jigyosho_id: str
    insured_person_id: str
    acquired_on: date
    lost_on: date | None
    worker_type: Annotated[str, one_of(WorkerType)]
    kenpo: bool
    kounen: bool
    version: int
    current: GradeOut | None
    deadlines: list[DeadlineOut]


class EnrolmentPage(BaseModel):
    items: list[EnrolmentOut]
    total: int
    limit: int
    offset: int


class LossIn(BaseModel):
    """退職 (or death): 喪失日 = the day after `last_day` (DOMAIN-SHAHO.md §6.3)."""

    model_config = ConfigDict(extra="forbid")
    last_day: date = Field(description="退職日（最終在籍日）")


class GradeIn(BaseModel):
    """A new 標準報酬月額 from a month (定時決定, 随時改定, 終了時改定 or a correction)."""

    model_config = ConfigDict(extra="forbid")
    effective_from: str = Field(pattern=MONTH, examples=["2026-09"])
    remuneration: Yen
    reason: Reason


class GradeHistory(BaseModel):
    items: list[GradeOut]


class PremiumOut(BaseModel):
    month: str
    deduction_month: str = Field(description="控除する給与の月 (翌月徴収 / 当月徴収)")
    kenpo_standard: int | None
    kounen_standard: int | None
    health_rate: str = Field(description="適用した健康保険の料率 (一般 + 介護 + 支援金, %)")
    kaigo: bool
    health_total: str = Field(description="健康保険料の全額 (銭まで)")
    health_employee: int
    pension_total: str
    pension_employee: int
    employee_total: int
    kyoshutsukin: str = Field(description="子ども・子育て拠出金 (事業主のみ)")


class PayMonthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=MONTH)
    pay: Yen
    base_days: int = Field(ge=0, le=31, description="支払基礎日数")
    retro_pay: Yen = 0
    partial_first_month: bool = False
    leave_pay: bool = False


class ZuijiIn(BaseModel):
    """随時改定 check of one enrolment: the month the changed fixed pay was first paid, the direction of
    the change, and the three months' pay — given here, or (without `months`) read from the pay
    months entered for the enrolment."""

    model_config = ConfigDict(extra="forbid")
    first_paid: str = Field(pattern=MONTH)
    direction: Literal["up", "down"]
    months: list[PayMonthIn] | None = Field(default=None, min_length=3, max_length=3)

    @field_validator("months")
    @classmethod
    def _distinct(cls, v: list[PayMonthIn] | None) -> list[PayMonthIn] | None:
        if v is not None and len({m.month for m in v}) != 3:
            raise ValueError("3か月分を重複なく指定してください")
        return v


class SchemeRevisionOut(BaseModel):
    current_grade: int
    new_grade: int
    new_standard: int
    gap: int
    revised: bool
    reason: str


class ZuijiOut(BaseModel):
    candidate: bool
    average: int | None
    effective_from: str | None
    kenpo: SchemeRevisionOut | None
    kounen: SchemeRevisionOut | None
    reason: str


class PayIn(BaseModel):
    """報酬 paid in a payment month (通貨 + 現物, overtime and allowances included) and its 支払基礎日数."""

    model_config = ConfigDict(extra="forbid")
    pay: Yen
    base_days: int = Field(ge=0, le=31, description="支払基礎日数")
    retro_pay: Yen = Field(default=0, description="含まれる遡及支払額 (3月以前分)")
    partial_first_month: bool = Field(default=False, description="途中入社で1か月分の報酬でない月")
    leave_pay: bool = Field(default=False, description="低額の休職給の月")

    @model_validator(mode="after")
    def _retro_within_pay(self) -> PayIn:
        if self.retro_pay > self.pay:
            raise ValueError("遡及支払額が報酬額を超えています")
        return self


class PayOut(PayIn):
    model_config = ConfigDict(extra="ignore")
    month: str


class TeijiRunIn(BaseModel):
    """Run the year's 定時決定 over every enrolment the caller may see, or these 事業所."""

    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=2021, le=2100)
    jigyosho_ids: list[Annotated[str, Field(pattern=REF_ID)]] | None = Field(default=None, min_length=1,
                                                                             max_length=500)


class TeijiSummary(BaseModel):
    jigyosho_id: str
    decided: int
    excluded: int
    kept_previous: int
    flagged: int
    kenpo_up: int
    kenpo_down: int


class TeijiRunOut(BaseModel):
    id: str
    year: int
    jigyosho_ids: list[str] | None
    written: int = Field(description="この呼び出しで新たに決定した人数")
    finished_at: datetime | None
    summary: list[TeijiSummary]


class TeijiResultOut(BaseModel):
    enrolment_id: str
    jigyosho_id: str
    status: Annotated[str, one_of(["decided", "excluded"])]
    exclusion: str | None
    remuneration: int | None
    old_kenpo_grade: int | None
    old_kounen_grade: int | None
    kenpo_grade: int | None
    kenpo_standard: int | None
    kounen_grade: int | None
    kounen_standard: int | None
    kept_previous: bool
    flags: list[str]


class TeijiResultPage(BaseModel):
    items: list[TeijiResultOut]
    total: int
    limit: int
    offset: int


class BonusIn(BaseModel):
    """A 賞与 paid (any pay for work paid 3 times a year or less, DOMAIN-SHAHO.md §2.1)."""

    model_config = ConfigDict(extra="forbid")
    paid_on: date = Field(description="支払日")
    amount: Annotated[int, Field(ge=1, le=1_000_000_000)]


class BonusOut(BaseModel):
    """The month's bonus (all payments of that month added up) with both capped 標準賞与額, the 健保
    cumulative of the fiscal year, the premium and the 賞与支払届 deadline."""

    paid_on: date
    month_total: int
    standard: int = Field(description="標準賞与額 (1,000円未満切捨て, 上限前)")
    kenpo_standard_bonus: int = Field(description="健保: 年度累計 573万円まで")
    kounen_standard_bonus: int = Field(description="厚年: 1か月 150万円まで")
    kenpo_fiscal_year_total: int
    premium: PremiumOut
    deadline: DeadlineOut


class BonusList(BaseModel):
    items: list[BonusOut]
