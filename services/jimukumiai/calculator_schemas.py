"""Bodies of the 年度更新 / 延納 calculator (no persistence) and of the renewal results the run
stores: one shape for both, since both come from rules.nendo_koshin.renew."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.jimukumiai.rules import tokubetsu_kanyu
from services.jimukumiai.rules.nendo_koshin import BaseSource, ExcessUse, RenewalInput
from services.jimukumiai.rules.rates import KoyoKubun, RateNotFound, fiscal_year_start
from services.jimukumiai.rules.tokubetsu_kanyu import SpecialEnrolment
from services.jimukumiai.rules.worker_share import Payment

YEN = Field(ge=0, le=10**13)
FISCAL_YEAR = Field(ge=2000, le=2100, description="年度 (April–March), by the calendar year of its April")
ROUSAI_CODE = r"^[0-9]{2}$"


class SpecialEnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_amount: int = Field(description="給付基礎日額 (one of the 16 levels)", examples=[10000])
    joined_on: date | None = Field(default=None,
                                   description="承認日 (coverage starts); null: before the years computed")
    left_on: date | None = Field(default=None, description="脱退日 (first day not covered); null: still enrolled")

    def rule(self) -> SpecialEnrolment:
        return SpecialEnrolment(self.daily_amount, self.joined_on, self.left_on)


def _check_levels(enrolments: list[SpecialEnrolmentIn], fiscal_year: int) -> None:
    for e in enrolments:
        try:
            tokubetsu_kanyu.check_daily_amount(e.daily_amount, fiscal_year_start(fiscal_year))
        except RateNotFound as exc:
            raise ValueError(str(exc)) from None


class RenewalRequest(BaseModel):
    """One employer's 年度更新: the past year's wages (確定) and what the new year's 概算 needs."""

    model_config = ConfigDict(extra="forbid")

    fiscal_year: int = Field(ge=2000, le=2100, description="the new 年度 (概算); the 確定 is for the year before",
                             examples=[2025])
    rousai_code: str | None = Field(pattern=ROUSAI_CODE, description="労災 事業の種類 (2 digits); null: 雇用保険のみ",
                                    examples=["94"])
    koyo_kubun: KoyoKubun | None = Field(description="雇用保険 事業区分; null: 労災保険のみ", examples=["ippan"])
    rousai_wages: int = Field(default=0, ge=0, le=10**13, description="past year's wages of all workers (円)")
    koyo_wages: int = Field(default=0, ge=0, le=10**13, description="past year's wages of insured workers (円)")
    paid_estimate: int = Field(default=0, ge=0, le=10**13, description="申告済概算保険料 of the past year (円)")
    estimated_rousai_wages: int | None = Field(default=None, ge=0, le=10**13,
                                               description="this year's estimate; used outside 50–200 %")
    estimated_koyo_wages: int | None = Field(default=None, ge=0, le=10**13)
    special_enrolments: list[SpecialEnrolmentIn] = Field(default_factory=list, max_length=200,
                                                         description="第1種特別加入者 (中小事業主・家族従事者)")
    excess_use: ExcessUse = Field(default=ExcessUse.PREMIUM, description="超過額: 充当 (premium, "
                                  "general_contribution, both: premium first) or refund (還付請求)")
    entrusted: bool = Field(default=True, description="委託事業主 of a 労働保険事務組合 (延納 always allowed)")
    installments_requested: bool = Field(default=True, description="延納 wanted where allowed")
    established_on: date | None = Field(default=None, description="保険関係成立日 when within the year (no 確定)")
    account_transfer: bool = Field(default=False, description="口座振替 (9/6, 11/14, 2/14)")
    shift_fixed_dates: bool | None = Field(
        default=None, description="move 10/31, 1/31, 11/14, 2/14, 9/6 to a business day (practice); null: the "
                                  "service setting. 7/10 and 50-day limits always move (law)")

    @model_validator(mode="after")
    def _daily_amounts(self) -> RenewalRequest:
        _check_levels(self.special_enrolments, self.fiscal_year)
        return self

    def rule(self, shift_default: bool) -> RenewalInput:
        return RenewalInput(
            fiscal_year=self.fiscal_year, rousai_code=self.rousai_code, koyo_kubun=self.koyo_kubun,
            rousai_wages=self.rousai_wages, koyo_wages=self.koyo_wages, paid_estimate=self.paid_estimate,
            estimated_rousai_wages=self.estimated_rousai_wages, estimated_koyo_wages=self.estimated_koyo_wages,
            special=tuple(s.rule() for s in self.special_enrolments), excess_use=self.excess_use,
            entrusted=self.entrusted, installments_requested=self.installments_requested,
            established_on=self.established_on, account_transfer=self.account_transfer,
            shift_fixed_dates=shift_default if self.shift_fixed_dates is None else self.shift_fixed_dates)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PremiumOut(_Out):
    fiscal_year: int
    rousai_base: int = Field(description="労災 算定基礎額 (千円未満切捨て)")
    koyo_base: int = Field(description="雇用 算定基礎額 (千円未満切捨て)")
    special_base: int = Field(description="特別加入保険料算定基礎額の総額 (千円未満切捨て)")
    rousai_rate: Decimal | None = Field(description="per 1,000")
    koyo_rate: Decimal | None = Field(description="per 1,000 (worker + employer)")
    rousai_premium: int
    koyo_premium: int
    special_premium: int
    total: int
    rousai_base_source: BaseSource
    koyo_base_source: BaseSource
    combined: bool = Field(description="one 労働保険料 line on the same base, rounded once")


class SettlementOut(_Out):
    confirmed: int
    paid_estimate: int
    shortage: int = Field(description="不足額")
    excess: int = Field(description="超過額")
    applied_to_premium: int = Field(description="充当 to this year's 概算")
    applied_to_general_contribution: int = Field(description="充当 to the 一般拠出金")
    refund: int = Field(description="還付請求額")


class InstallmentOut(_Out):
    number: int = Field(description="期")
    covers_from: date
    covers_to: date
    premium: int = Field(description="this period's share of the 概算")
    appropriated: int = Field(description="充当 to that share")
    shortage: int = Field(description="不足額 (first payment)")
    general_contribution: int = Field(description="一般拠出金 (first payment, never split)")
    amount_due: int
    raw_due_on: date = Field(description="the date of the rule")
    due_on: date = Field(description="moved to the next 行政機関 business day where applicable")


class PlanOut(_Out):
    allowed: bool = Field(description="延納 allowed")
    installments: list[InstallmentOut]
    total_due: int


class RefundClaimOut(_Out):
    fiscal_year: int
    premium_refund: int
    general_contribution_refund: int
    amount: int
    file_by: date = Field(description="with the 確定申告書")


class RenewalOut(_Out):
    fiscal_year: int
    confirmed: PremiumOut | None = Field(description="確定保険料 of the past year (null: established this year)")
    general_contribution: int = Field(description="一般拠出金 on the past year's 労災 base")
    general_contribution_due: int = Field(description="一般拠出金 after 充当")
    estimate: PremiumOut = Field(description="概算保険料 of this year")
    settlement: SettlementOut
    plan: PlanOut
    refund_claim: RefundClaimOut | None
    filing_deadline: date
    notes: list[str]


class RenewalResultRow(BaseModel):
    """One employer's stored 年度更新 of a year: who, and the result (its 申告書 控え data)."""

    member_id: str
    labour_insurance_number: str
    name: str
    kind: str = Field(description="entrusted (委託事業主) or client (the office's client)")
    jigyosho_id: str
    result: RenewalOut


class RenewalResultPage(BaseModel):
    items: list[RenewalResultRow]
    total: int
    limit: int
    offset: int


class InstallmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fiscal_year: int = Field(ge=2000, le=2100, examples=[2025])
    estimate: int = Field(ge=0, le=10**13, description="概算保険料 (円)", examples=[208135])
    both_insurances: bool = True
    entrusted: bool = True
    shortage: int = Field(default=0, ge=0, le=10**13, description="last year's 不足額, with the first payment")
    general_contribution: int = Field(default=0, ge=0, le=10**13, description="一般拠出金, with the first payment")
    appropriated: int = Field(default=0, ge=0, le=10**13, description="充当 to the 概算, first installment first")
    installments_requested: bool = True
    established_on: date | None = None
    account_transfer: bool = False
    shift_fixed_dates: bool | None = None


class SpecialPremiumRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fiscal_year: int = Field(ge=2000, le=2100, examples=[2025])
    rousai_code: str = Field(pattern=ROUSAI_CODE, examples=["94"])
    special_enrolments: list[SpecialEnrolmentIn] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _daily_amounts(self) -> SpecialPremiumRequest:
        _check_levels(self.special_enrolments, self.fiscal_year)
        return self


class SpecialPremiumOut(BaseModel):
    fiscal_year: int
    rousai_rate: Decimal
    months: list[int] = Field(description="months covered in the year, per person (part months count)")
    member_bases: list[int] = Field(description="unrounded base per person")
    total_base: int = Field(description="千円未満切捨て")
    premium: int


class IncreaseEstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fiscal_year: int = Field(ge=2000, le=2100)
    rousai_code: str | None = Field(pattern=ROUSAI_CODE)
    koyo_kubun: KoyoKubun | None
    used_rousai_base: int = Field(ge=0, le=10**13, description="the base the filed 概算 used")
    used_koyo_base: int = Field(ge=0, le=10**13)
    filed_estimate: int = Field(ge=0, le=10**13, description="the 概算 filed")
    new_rousai_wages: int | None = Field(default=None, ge=0, le=10**13)
    new_koyo_wages: int | None = Field(default=None, ge=0, le=10**13)
    expected_on: date = Field(description="the day the increase was expected")


class IncreaseEstimateOut(_Out):
    due: bool = Field(description="増加概算保険料 must be filed")
    ratio_exceeded: bool = Field(description="a base above 200 % of the one used")
    new_estimate: PremiumOut
    filed_estimate: int
    increase: int
    deadline: date | None


class KoyoRateOut(BaseModel):
    kubun: KoyoKubun
    worker: Decimal
    employer: Decimal
    total: Decimal


class RousaiRateOut(BaseModel):
    code: str
    name: str
    rate: Decimal


class RatesOut(BaseModel):
    fiscal_year: int
    koyo: list[KoyoRateOut]
    rousai: list[RousaiRateOut]
    general_contribution_rate: Decimal
    daily_amount_levels: list[int]


class IncreaseBookingOut(BaseModel):
    """A 増加概算 judged for a member and, when due, entered in the 徴収及び納付簿."""

    computed: IncreaseEstimateOut
    ledger_entry_id: str | None = Field(description="the owed entry added; null when not due (nothing written)")


class WorkerShareRequest(BaseModel):
    """One wage payment of one 雇用保険被保険者."""

    model_config = ConfigDict(extra="forbid")

    wage: int = Field(ge=0, le=10**10, description="賃金 of one payment (円, 通勤手当 and 賞与 included)",
                      examples=[253456])
    fiscal_year: int = Field(ge=2000, le=2100, description="年度 whose rate applies", examples=[2025])
    koyo_kubun: KoyoKubun = Field(default=KoyoKubun.IPPAN, description="雇用保険 事業区分")
    payment: Payment = Field(default=Payment.DEDUCTION, description=(
        "deduction: 賃金から控除 (50銭以下切り捨て・50銭超切り上げ); cash: 現金で負担 (50銭未満切り捨て・"
        "50銭以上切り上げ); agreed_round_down: 特約・慣習による切り捨て"))


class WorkerShareOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    fiscal_year: int
    kubun: KoyoKubun
    wage: int
    rate: Decimal = Field(description="労働者負担 per 1,000")
    exact: Decimal = Field(description="wage × rate / 1000 before rounding (円, with 銭)")
    payment: Payment
    amount: int = Field(description="被保険者負担額 (円)")
