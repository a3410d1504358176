"""標準賞与額 and bonus premiums (DOMAIN-SHAHO.md §2, §4.2).

* 標準賞与額 = the month's 賞与 rounded down to 1,000円 (健保法45条1項, 厚年法24条の4第1項 [確認] L6, L7, N3).
  Several bonuses in one month: the sum is truncated (setting ``bonus_truncate_monthly_sum``, [要確認]
  §2.5; else each payment is truncated and then added).
* 健保: cumulative over the fiscal year 4/1–3/31 capped at 5,730,000; the crossing bonus is cut to reach
  the cap exactly and later bonuses of the year are 0 (健保法45条1項 [確認] L6). 介護 and 支援金 use the
  same base [導出].
* 厚年: 1,500,000 per month, no annual cap (厚年法24条の4 [確認] L7, M1).
* Premium month = the month the bonus is paid (§4.2 [確認] K6); same rates and rounding as monthly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.shakai_hoken.rules.months import Month
from services.shakai_hoken.rules.premiums import PremiumBreakdown, Rounding, monthly_premium
from services.shakai_hoken.rules.rates import HealthRates
from services.shakai_hoken.rules.settings import DEFAULT_SETTINGS, ShahoRuleSettings

KENPO_ANNUAL_CAP = 5_730_000
KOUNEN_MONTHLY_CAP = 1_500_000


def truncate_thousand(amount: int) -> int:
    if amount < 0:
        raise ValueError("賞与額 must not be negative")
    return amount // 1000 * 1000


def standard_bonus(payments: Sequence[int], settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> int:
    """The month's 標準賞与額 before the caps, from the bonuses paid in that month."""
    if settings.bonus_truncate_monthly_sum:
        return truncate_thousand(sum(payments))
    return sum(truncate_thousand(p) for p in payments)


def fiscal_year(d: date) -> int:
    """The fiscal year (4/1–3/31) named by the year it starts."""
    return d.year if d.month >= 4 else d.year - 1


@dataclass(frozen=True)
class BonusBases:
    paid_on: date
    amount: int  # 賞与 paid that month (sum)
    standard: int  # 標準賞与額 before caps
    kenpo: int  # 健保 標準賞与額 after the fiscal-year cap
    kounen: int  # 厚年 標準賞与額 after the monthly cap
    kenpo_cumulative: int  # fiscal-year cumulative after this bonus


def bonus_bases(paid_on: date, payments: Sequence[int], kenpo_cumulative_before: int,
                settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> BonusBases:
    """Both bases of one month's bonus, given the 健保 cumulative of the same fiscal year so far."""
    std = standard_bonus(payments, settings)
    room = max(0, KENPO_ANNUAL_CAP - kenpo_cumulative_before)
    kenpo = min(std, room)
    return BonusBases(paid_on, sum(payments), std, kenpo, min(std, KOUNEN_MONTHLY_CAP),
                      kenpo_cumulative_before + kenpo)


def bonus_series(bonuses: Sequence[tuple[date, int]],
                 settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> list[BonusBases]:
    """A person's bonuses in payment order, with the cumulative reset at each fiscal year (W10).
    Bonuses paid in the same calendar month are summed (§2.5)."""
    by_month: dict[Month, list[tuple[date, int]]] = {}
    for d, a in sorted(bonuses):
        by_month.setdefault(Month.of(d), []).append((d, a))
    out: list[BonusBases] = []
    cumulative, fy = 0, None
    for _m, items in sorted(by_month.items()):
        paid_on = items[-1][0]
        if fiscal_year(paid_on) != fy:
            fy, cumulative = fiscal_year(paid_on), 0
        b = bonus_bases(paid_on, [a for _d, a in items], cumulative, settings)
        cumulative = b.kenpo_cumulative
        out.append(b)
    return out


def bonus_premium(bases: BonusBases, *, rates: HealthRates, birth_date: date,
                  in_kenpo: bool = True, in_kounen: bool = True, exempt: bool = False,
                  mode: Rounding = Rounding.DEDUCT,
                  settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> PremiumBreakdown:
    """The bonus premium of the payment month (W9): the monthly formula on the capped bases."""
    return monthly_premium(month=Month.of(bases.paid_on),
                           kenpo_standard=bases.kenpo if in_kenpo else None,
                           kounen_standard=bases.kounen if in_kounen else None,
                           rates=rates, birth_date=birth_date, mode=mode, exempt=exempt,
                           settings=settings)
