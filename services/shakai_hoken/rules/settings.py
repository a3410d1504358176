"""Settings for the items DOMAIN-SHAHO.md marks [要確認]: each default is the one the notes state, and
each is listed in docs/domain-rules.md and docs/shakai_hoken.md. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Averaging(StrEnum):
    FLOOR = "floor"  # §9.6: mean with the fraction below 1 yen dropped (T3 Math.floor) [要確認]
    EXACT = "exact"  # compare the exact fraction with the band bounds


@dataclass(frozen=True)
class ShahoRuleSettings:
    # §14 / Q8: 行政機関の休日に関する法律2条 for filings to 機構 / 健保組合 (period deadlines) [要確認]
    shift_period_deadlines: bool = True
    # §14 / Q8: the fixed 7/10 算定基礎届 date moved off a holiday (practice) [要確認]
    shift_fixed_dates: bool = True
    # §2.5 / Q3: 1,000円 truncation on the month's sum of bonuses (statute's wording) [要確認]
    bonus_truncate_monthly_sum: bool = True
    # §9.6 / Q2: averaging precision in 定時決定・随時改定 [要確認]
    averaging: Averaging = Averaging.FLOOR
    # §10.3 / Q5: 健保 2→1 cut and 1→2 raise exception threshold (T3: 53,000; blt-saving: 63,000) [要確認]
    kenpo_bottom_exception: int = 53_000
    # §4.1 / Q4: 一般 + 介護 + 支援金 applied as one combined rate, halved, then rounded once [要確認]
    combined_health_rate: bool = True
    # §9.4: paid-leave days count as 支払基礎日数 for daily / hourly workers (per office) [要確認]
    count_paid_leave_days: bool = True


DEFAULT_SETTINGS = ShahoRuleSettings()
