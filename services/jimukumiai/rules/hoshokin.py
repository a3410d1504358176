"""報奨金: the reward the state pays a 労働保険事務組合 for collecting well (DOMAIN.md B9, appendix §5).

報奨金に関する政令 (昭和48年政令第195号) 1条・2条 and 省令 1条:

* Condition: on **7/10** of the year, at least **95 %** of the previous fiscal year's 確定保険料
  (including 追徴金 and 延滞金) of the 委託事業主 with **常時15人以下** has been paid. (A disaster may
  set a later date; the caller passes what was paid by the applicable date.)
* Amount: the lower of **10,000,000 円** and **2 % of the 労働保険料 paid under those 委託** plus a
  **per-business amount**: under 5 workers 12,400 円 (労災+雇用) / 6,200 円 (one insurance); 5–15
  workers 6,200 / 3,100.
* Application by 10/15 to the 労働局長 (a fixed date; moved to a business day by practice).

**[要確認]**: the 2024 restructuring of 政令2条 (省令第139号, 2024-10-15) may have changed the 2 %
term and the cap (terms are dated data: rates.REWARD_TERMS); whether the per-business amount counts
every counted 委託事業主 or only those that paid in full is not confirmed — every counted member is
counted here, and the estimate says so. The separate 一般拠出金 報奨金 is not estimated.
2 % of the paid premiums is rounded down to whole yen."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.jimukumiai.rules.money import floor_yen
from services.jimukumiai.rules.rates import reward_terms
from shared.jp_calendar import next_business_day


@dataclass(frozen=True)
class MemberCollection:
    """One 委託事業主's previous-year 確定 (with 追徴金 and 延滞金) and what was paid by 7/10."""

    workers: int  # 常時使用労働者数
    both_insurances: bool
    confirmed_due: int
    paid: int


@dataclass(frozen=True)
class RewardEstimate:
    fiscal_year: int  # the year the 報奨金 is applied for (judged on 7/10 of it)
    counted_members: int  # 委託事業主 with ≤ 15 workers
    confirmed_due: int
    paid: int
    collection_rate: Decimal  # paid ÷ due, 4 decimals (display)
    qualifies: bool
    premium_part: int  # 2 % of the paid premiums
    per_business_part: int
    amount: int  # 0 when not qualifying
    capped: bool
    application_deadline: date


def per_business_amount(workers: int, both_insurances: bool, on: date) -> int:
    t = reward_terms(on)
    if workers > t.max_workers:
        return 0
    if workers < t.small_below:
        return t.small_both if both_insurances else t.small_one
    return t.medium_both if both_insurances else t.medium_one


def estimate(fiscal_year: int, members: Iterable[MemberCollection], *,
             shift_fixed_dates: bool = True) -> RewardEstimate:
    judged_on = date(fiscal_year, 7, 10)
    t = reward_terms(judged_on)
    counted = [m for m in members if m.workers <= t.max_workers]
    due = sum(m.confirmed_due for m in counted)
    paid = sum(min(m.paid, m.confirmed_due) for m in counted)
    rate = (Decimal(paid) / Decimal(due)) if due else Decimal(0)
    qualifies = due > 0 and Decimal(paid) >= Decimal(due) * t.min_collection_rate
    premium_part = floor_yen(Decimal(paid) * t.premium_share)
    per_business = sum(per_business_amount(m.workers, m.both_insurances, judged_on) for m in counted)
    uncapped = premium_part + per_business
    amount = min(t.cap, uncapped) if qualifies else 0
    deadline = date(fiscal_year, 10, 15)
    return RewardEstimate(fiscal_year, len(counted), due, paid, rate.quantize(Decimal("0.0001")), qualifies,
                          premium_part, per_business, amount, qualifies and uncapped > t.cap,
                          next_business_day(deadline) if shift_fixed_dates else deadline)
