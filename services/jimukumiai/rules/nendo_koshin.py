"""年度更新 (the annual renewal of 労働保険料), as one pure function (DOMAIN.md B6–B8).

年度更新 is the yearly declaration every 労働保険 business makes between 6/1 and 7/10 (徴収法15条・
19条: 40 days from 6/1): on one 申告書 it settles the **past** fiscal year's premium at the wages
actually paid (確定保険料, against the 概算 paid in advance during that year) and declares and pays in
advance the **current** fiscal year's premium (概算保険料). A 事務組合 does it for each 委託事業主.

Rules (sources in DOMAIN.md and docs/domain-rules.md):

* Bases: 労災 = wages of **all** workers, 雇用 = wages of 雇用保険被保険者 only; each 千円未満切捨て.
  A business may have only one of the two (片保険): `rousai_code` or `koyo_kubun` is None.
* 確定 at the past year's rates, 概算 at the new year's (rates.py, by fiscal year).
* Each premium 円未満切捨て. When both insurances apply on the **same** base, the 申告書's 労働保険料
  line is base × (労災 + 雇用 rates), rounded once; when the bases differ each is computed and rounded
  separately (B7: 「労災と雇用の基礎が異なる場合は別々に」). [導出: the two readings differ by at most
  1 円; the combined line is the one the 申告書 prints when the bases agree.]
* 特別加入 (第1種): its own base (tokubetsu_kanyu.total_base) × the 労災 rate, rounded on its own,
  added to the premium. Not in the 一般拠出金 base.
* 一般拠出金 = 労災 確定賃金総額 (rounded base) × 0.02/1000, 円未満切捨て; none without 労災. Paid with
  the 確定 at the first payment, never in installments.
* 概算 base = last year's 確定 base, unless this year's estimate is **below 50 %** or **above 200 %**
  of it: then the estimate (rounded down to thousands). Checked per insurance.
* Settlement of the past year: 確定 > 申告済概算 → 不足額, paid with the first payment; 確定 <
  申告済概算 → 超過額, 充当 to this year's 概算 and/or the 一般拠出金 as the employer chooses, or
  refunded with the 労働保険料・一般拠出金還付請求書 (filed with the 確定申告書). With both chosen, the
  概算 is filled first, then the 一般拠出金 **[要確認: the order]**; what no 充当 can absorb is
  refunded **[導出]**.
* Deadline: 7/10 of the new year, moved to the next business day by law (appendix §6); for a
  business established in the year, 50 days after 成立 (no 確定 then).
* 増加概算保険料: `increase_estimate`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from services.jimukumiai.rules import ennou, tokubetsu_kanyu
from services.jimukumiai.rules.money import floor_thousands, per_mille
from services.jimukumiai.rules.rates import (
    KoyoKubun,
    fiscal_year_end,
    fiscal_year_start,
    general_contribution_rate,
    koyo_rate,
    rousai_type,
)
from services.jimukumiai.rules.tokubetsu_kanyu import SpecialEnrolment
from shared.jp_calendar import next_business_day

INCREASE_RATIO = Decimal(2)  # more than 200 %
INCREASE_MIN_PREMIUM = 130_000
INCREASE_DAYS = 30
ESTIMATE_LOW = Decimal("0.5")
ESTIMATE_HIGH = Decimal(2)


class ExcessUse(StrEnum):
    """What happens to last year's 超過額 (the 申告書's 充当意思, or a 還付請求)."""

    PREMIUM = "premium"  # 概算保険料に充当
    GENERAL_CONTRIBUTION = "general_contribution"  # 一般拠出金に充当
    BOTH = "both"  # 労働保険料及び一般拠出金に充当
    REFUND = "refund"  # 還付請求


class BaseSource(StrEnum):
    CONFIRMED = "confirmed"  # last year's 確定賃金総額
    ESTIMATE = "estimate"  # this year's estimate (outside 50–200 %, or a new business)
    NONE = "none"  # the insurance does not apply


class RenewalError(ValueError):
    """The input cannot be renewed as given (e.g. a new business without an estimate)."""


@dataclass(frozen=True)
class RenewalInput:
    fiscal_year: int  # the new year (概算); the 確定 is for fiscal_year - 1
    rousai_code: str | None  # 労災 事業の種類 (None: 雇用保険のみ)
    koyo_kubun: KoyoKubun | None  # 雇用保険 事業区分 (None: 労災保険のみ)
    rousai_wages: int = 0  # past year, all workers, in yen as paid
    koyo_wages: int = 0  # past year, insured workers only
    paid_estimate: int = 0  # 申告済概算保険料 of the past year
    estimated_rousai_wages: int | None = None  # this year's estimate
    estimated_koyo_wages: int | None = None
    special: Sequence[SpecialEnrolment] = ()  # 第1種特別加入者 (both years, by their dates)
    excess_use: ExcessUse = ExcessUse.PREMIUM
    entrusted: bool = True  # a 委託事業主 of a 事務組合
    installments_requested: bool = True
    established_on: date | None = None  # 保険関係成立日, when within the new year: no 確定
    account_transfer: bool = False
    shift_fixed_dates: bool = True

    def __post_init__(self) -> None:
        if self.rousai_code is None and self.koyo_kubun is None:
            raise RenewalError("労災 or 雇用 (or both) must apply")
        if self.special and self.rousai_code is None:
            raise RenewalError("特別加入 needs 労災保険")
        for v in (self.rousai_wages, self.koyo_wages, self.paid_estimate, self.estimated_rousai_wages or 0,
                  self.estimated_koyo_wages or 0):
            if v < 0:
                raise RenewalError("amounts are never negative")

    @property
    def new_business(self) -> bool:
        return self.established_on is not None and self.established_on >= fiscal_year_start(self.fiscal_year)

    @property
    def both_insurances(self) -> bool:
        return self.rousai_code is not None and self.koyo_kubun is not None


@dataclass(frozen=True)
class Premium:
    """One column set of the 申告書: the 確定 of the past year or the 概算 of the new one."""

    fiscal_year: int
    rousai_base: int
    koyo_base: int
    special_base: int
    rousai_rate: Decimal | None
    koyo_rate: Decimal | None
    rousai_premium: int
    koyo_premium: int
    special_premium: int
    rousai_base_source: BaseSource = BaseSource.CONFIRMED
    koyo_base_source: BaseSource = BaseSource.CONFIRMED
    combined: bool = False  # one 労働保険料 line on the same base

    @property
    def total(self) -> int:
        return self.rousai_premium + self.koyo_premium + self.special_premium


@dataclass(frozen=True)
class Settlement:
    """The past year's 確定 against its 申告済概算."""

    confirmed: int
    paid_estimate: int
    shortage: int  # 不足額
    excess: int  # 超過額
    applied_to_premium: int  # 充当 to this year's 概算
    applied_to_general_contribution: int  # 充当 to the 一般拠出金
    refund: int  # 還付請求


@dataclass(frozen=True)
class RefundClaim:
    """The data of the 労働保険料・一般拠出金還付請求書 (filed together with the 確定申告書)."""

    fiscal_year: int  # the year whose premium is refunded
    premium_refund: int
    general_contribution_refund: int
    file_by: date

    @property
    def amount(self) -> int:
        return self.premium_refund + self.general_contribution_refund


@dataclass(frozen=True)
class RenewalResult:
    fiscal_year: int
    confirmed: Premium | None  # None for a business established in the year
    general_contribution: int  # on the past year's 労災 base
    estimate: Premium
    settlement: Settlement
    plan: ennou.InstallmentPlan
    refund_claim: RefundClaim | None
    filing_deadline: date
    notes: tuple[str, ...] = field(default=())

    @property
    def general_contribution_due(self) -> int:
        return self.general_contribution - self.settlement.applied_to_general_contribution


def _premium(fiscal_year: int, rousai_code: str | None, koyo_kubun: KoyoKubun | None, rousai_base: int,
             koyo_base: int, special_base: int, sources: tuple[BaseSource, BaseSource] | None = None) -> Premium:
    on = fiscal_year_start(fiscal_year)
    r_rate = rousai_type(rousai_code, on).rate if rousai_code is not None else None
    k_rate = koyo_rate(koyo_kubun, on).total if koyo_kubun is not None else None
    combined = r_rate is not None and k_rate is not None and rousai_base == koyo_base
    if combined:
        assert r_rate is not None and k_rate is not None
        total = per_mille(rousai_base, r_rate + k_rate)
        r_prem = per_mille(rousai_base, r_rate)
        k_prem = total - r_prem
    else:
        r_prem = per_mille(rousai_base, r_rate) if r_rate is not None else 0
        k_prem = per_mille(koyo_base, k_rate) if k_rate is not None else 0
    s_prem = per_mille(special_base, r_rate) if r_rate is not None and special_base else 0
    rs, ks = sources or (BaseSource.CONFIRMED, BaseSource.CONFIRMED)
    return Premium(fiscal_year, rousai_base if r_rate is not None else 0, koyo_base if k_rate is not None else 0,
                   special_base, r_rate, k_rate, r_prem, k_prem, s_prem,
                   rs if r_rate is not None else BaseSource.NONE, ks if k_rate is not None else BaseSource.NONE,
                   combined)


def estimate_base(confirmed_base: int, estimate: int | None) -> tuple[int, BaseSource]:
    """The 概算 base: last year's 確定 base, or the estimate when it is below 50 % or above 200 %
    of it (B7). Both are compared rounded down to thousands."""
    if estimate is None:
        return confirmed_base, BaseSource.CONFIRMED
    est = floor_thousands(estimate)
    if est < confirmed_base * ESTIMATE_LOW or est > confirmed_base * ESTIMATE_HIGH:
        return est, BaseSource.ESTIMATE
    return confirmed_base, BaseSource.CONFIRMED


def settle(confirmed: int, paid_estimate: int, *, use: ExcessUse, estimate: int,
           general_contribution: int) -> Settlement:
    if confirmed >= paid_estimate:
        return Settlement(confirmed, paid_estimate, confirmed - paid_estimate, 0, 0, 0, 0)
    excess = paid_estimate - confirmed
    to_premium = to_gc = 0
    if use in (ExcessUse.PREMIUM, ExcessUse.BOTH):
        to_premium = min(excess, estimate)
    if use in (ExcessUse.GENERAL_CONTRIBUTION, ExcessUse.BOTH):
        to_gc = min(excess - to_premium, general_contribution)
    return Settlement(confirmed, paid_estimate, 0, excess, to_premium, to_gc, excess - to_premium - to_gc)


def filing_deadline(fiscal_year: int, established_on: date | None = None) -> date:
    """7/10 of the year (40 days from 6/1), or 50 days after 成立; moved by law."""
    if established_on is not None and established_on >= fiscal_year_start(fiscal_year):
        return next_business_day(established_on + timedelta(days=ennou.NEW_BUSINESS_DAYS))
    return next_business_day(date(fiscal_year, 7, 10))


def renew(i: RenewalInput) -> RenewalResult:
    """The 年度更新 of one business: 確定 of fiscal_year-1, 一般拠出金, 概算 of fiscal_year,
    settlement and the payment plan."""
    fy, past = i.fiscal_year, i.fiscal_year - 1
    notes: list[str] = []
    if i.new_business:
        if i.established_on is not None and i.established_on > fiscal_year_end(fy):
            raise RenewalError("the business is established after this fiscal year")
        if (i.rousai_code is not None and i.estimated_rousai_wages is None) or (
                i.koyo_kubun is not None and i.estimated_koyo_wages is None):
            raise RenewalError("a business established in the year needs its estimated wages")
        confirmed = None
        gc = 0
        r_base = floor_thousands(i.estimated_rousai_wages or 0)
        k_base = floor_thousands(i.estimated_koyo_wages or 0)
        sources = (BaseSource.ESTIMATE, BaseSource.ESTIMATE)
        paid = 0
    else:
        r_conf = floor_thousands(i.rousai_wages)
        k_conf = floor_thousands(i.koyo_wages)
        confirmed = _premium(past, i.rousai_code, i.koyo_kubun, r_conf, k_conf,
                             tokubetsu_kanyu.total_base(i.special, past))
        gc = per_mille(r_conf, general_contribution_rate(fiscal_year_start(past))) if i.rousai_code else 0
        r_base, r_src = estimate_base(r_conf, i.estimated_rousai_wages)
        k_base, k_src = estimate_base(k_conf, i.estimated_koyo_wages)
        sources = (r_src, k_src)
        paid = i.paid_estimate
    estimate = _premium(fy, i.rousai_code, i.koyo_kubun, r_base, k_base, tokubetsu_kanyu.total_base(i.special, fy),
                        sources)
    settlement = settle(confirmed.total if confirmed else 0, paid, use=i.excess_use, estimate=estimate.total,
                        general_contribution=gc)
    plan = ennou.plan(fy, estimate.total, both_insurances=i.both_insurances, entrusted=i.entrusted,
                      shortage=settlement.shortage,
                      general_contribution=gc - settlement.applied_to_general_contribution,
                      appropriated=settlement.applied_to_premium, requested=i.installments_requested,
                      established_on=i.established_on if i.new_business else None,
                      account_transfer=i.account_transfer, shift_fixed_dates=i.shift_fixed_dates)
    deadline = filing_deadline(fy, i.established_on)
    claim = None
    if settlement.refund:
        claim = RefundClaim(past, settlement.refund, 0, deadline)
        if i.excess_use is not ExcessUse.REFUND:
            notes.append("超過額 beyond what the chosen 充当 absorbs is refunded")
    if not plan.allowed and i.installments_requested:
        notes.append("延納 not allowed: the 概算 is below the threshold and the business is not entrusted")
    return RenewalResult(fy, confirmed, gc, estimate, settlement, plan, claim, deadline, tuple(notes))


@dataclass(frozen=True)
class IncreaseEstimate:
    due: bool
    ratio_exceeded: bool
    new_estimate: Premium
    filed_estimate: int
    increase: int  # new 概算 − filed 概算
    deadline: date | None  # 30 days from the day after the increase was expected, moved by law


def increase_estimate(fiscal_year: int, rousai_code: str | None, koyo_kubun: KoyoKubun | None, *,
                      used_rousai_base: int, used_koyo_base: int, filed_estimate: int,
                      new_rousai_wages: int | None, new_koyo_wages: int | None, expected_on: date,
                      special_base: int = 0) -> IncreaseEstimate:
    """増加概算保険料 (徴収法16条, 則25条; B7): due when the new estimated base is **more than 200 %**
    of the base the 概算 used **and** the extra premium is **130,000 円 or more**; file and pay within
    30 days from the day after the increase was expected. Each insurance's base is compared on its
    own; the extra premium is the whole new 概算 less the filed one [導出]."""
    r_new = floor_thousands(new_rousai_wages) if new_rousai_wages is not None else used_rousai_base
    k_new = floor_thousands(new_koyo_wages) if new_koyo_wages is not None else used_koyo_base
    exceeded = ((rousai_code is not None and r_new > used_rousai_base * INCREASE_RATIO)
                or (koyo_kubun is not None and k_new > used_koyo_base * INCREASE_RATIO))
    new = _premium(fiscal_year, rousai_code, koyo_kubun, r_new, k_new, special_base,
                   (BaseSource.ESTIMATE, BaseSource.ESTIMATE))
    increase = new.total - filed_estimate
    due = exceeded and increase >= INCREASE_MIN_PREMIUM
    deadline = next_business_day(expected_on + timedelta(days=INCREASE_DAYS)) if due else None
    return IncreaseEstimate(due, exceeded, new, filed_estimate, increase, deadline)
