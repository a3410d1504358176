"""第1種特別加入 (中小事業主等): the 保険料算定基礎額 and premium (DOMAIN.md B9).

* 給付基礎日額: one of the 16 levels (rates.DAILY_AMOUNT_LEVELS).
* 保険料算定基礎額 = 給付基礎日額 × 365; premium = base × the business's 労災保険率 (the 第1種
  rate equals the business's), 円未満切捨て. 一般拠出金 is not charged on it.
* Joining or leaving mid-year (平7.2.20 基発74, 平7.3.30 労徴発28, via sharou4.com): monthly base =
  annual base ÷ 12 **rounded up** to whole yen, × the months covered, where a part month counts as
  1 — the month of approval and the month of the day before leaving are both included.
* The total base is rounded down to thousands (B7: 「特別加入保険料算定基礎額の総額」 千円未満切捨て):
  the members' unrounded bases are summed, then the sum is rounded [導出: one member gives the
  worked example exactly; for several, the 'total' wording is followed].

Dates: `joined_on` is the day coverage starts (承認日); `left_on` is the 脱退 day, the first day
no longer covered (None: still enrolled)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from services.jimukumiai.rules.money import ceil_yen, floor_thousands, per_mille
from services.jimukumiai.rules.rates import daily_amount_levels, fiscal_year_end, fiscal_year_start

DAYS_PER_YEAR = 365


class InvalidDailyAmount(ValueError):
    pass


@dataclass(frozen=True)
class SpecialEnrolment:
    daily_amount: int
    joined_on: date | None = None  # None: enrolled before any year computed
    left_on: date | None = None


def check_daily_amount(daily_amount: int, on: date) -> None:
    levels = daily_amount_levels(on)
    if daily_amount not in levels:
        raise InvalidDailyAmount(f"給付基礎日額 {daily_amount} is not one of {levels}")


def annual_base(daily_amount: int) -> int:
    """保険料算定基礎額 for a whole year: 10,000 → 3,650,000."""
    return daily_amount * DAYS_PER_YEAR


def _month_index(d: date) -> int:
    return d.year * 12 + d.month


def months_covered(e: SpecialEnrolment, fiscal_year: int) -> int:
    """Months of the fiscal year touched by the enrolment (a part month counts as 1)."""
    start = max(e.joined_on or fiscal_year_start(fiscal_year), fiscal_year_start(fiscal_year))
    last = fiscal_year_end(fiscal_year)
    if e.left_on is not None:
        last = min(last, e.left_on - timedelta(days=1))
    if last < start:
        return 0
    return _month_index(last) - _month_index(start) + 1


def member_base(e: SpecialEnrolment, fiscal_year: int) -> int:
    """Unrounded base of one person for one fiscal year: the annual base for 12 months, else
    ceil(annual ÷ 12) × months."""
    months = months_covered(e, fiscal_year)
    if months == 12:
        return annual_base(e.daily_amount)
    return ceil_yen(Decimal(annual_base(e.daily_amount)) / 12) * months


def total_base(enrolments: Iterable[SpecialEnrolment], fiscal_year: int) -> int:
    """The 特別加入保険料算定基礎額 of a business for a fiscal year, 千円未満切捨て."""
    return floor_thousands(sum(member_base(e, fiscal_year) for e in enrolments))


def premium(enrolments: Iterable[SpecialEnrolment], fiscal_year: int, rousai_rate: Decimal) -> int:
    return per_mille(total_base(enrolments, fiscal_year), rousai_rate)
