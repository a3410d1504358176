"""定時決定 (算定基礎届) (DOMAIN-SHAHO.md §9).

* Who (§9.1 [確認] L5, N1, T3): insured on 7/1, except (a) acquired on or after 6/1, (b) lost on or
  before 7/1 (left by 6/30), (c) revised from July, August or September (随時改定, 育休・産休終了時改定).
* Pay counted by payment month April, May, June (§9.2 [確認]).
* 支払基礎日数 (§9.3 [確認] L5, N1, T3): ordinary 17; 短時間労働者 (4要件) 11; 短時間就労者 (4分の3) 17,
  else the months with 15 or 16, else 保険者算定.
* A partial first month (joined within April or May, not a full month's pay) is left out (§9.5 [確認]).
* 報酬月額 = mean of the usable months, the fraction below 1 yen dropped (§9.6 [要確認], setting).
* 保険者算定 (§9.7 [確認] N2): no usable month → the 従前 標準報酬月額 is kept; back pay for March or
  earlier is removed (修正平均); low 休職給 months are dropped (all three → 従前); a 年間平均 candidate
  is flagged for staff and the employee's consent when the annual average differs by ≥ 2 grades.
* The result applies September to the next August (健保法41条2項 [確認])."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from fractions import Fraction

from services.shakai_hoken.rules.grades import Grade, lookup
from services.shakai_hoken.rules.months import Month
from services.shakai_hoken.rules.settings import DEFAULT_SETTINGS, Averaging, ShahoRuleSettings
from services.shakai_hoken.rules.tables import Scheme


class WorkerType(StrEnum):
    ORDINARY = "ordinary"  # 一般の被保険者: 17日
    SHORT_TIME_WORKER = "short_time_worker"  # 短時間労働者 (特定適用事業所の4要件): 11日
    PART_TIMER = "part_timer"  # 短時間就労者 (4分の3基準を満たすパート): 17日, なければ15日以上


def day_threshold(worker: WorkerType) -> int:
    return 11 if worker is WorkerType.SHORT_TIME_WORKER else 17


@dataclass(frozen=True)
class PayMonth:
    month: Month  # the payment month
    pay: int  # 報酬 paid in that month (通貨 + 現物)
    base_days: int  # 支払基礎日数
    retro_pay: int = 0  # back pay for March or earlier included in `pay` (removed: 修正平均)
    partial_first_month: bool = False  # joined during the period; not a full month's pay
    leave_pay: bool = False  # low 休職給 (dropped)


class Exclusion(StrEnum):
    ACQUIRED_FROM_JUNE = "acquired_on_or_after_6_1"  # 6/1以降の資格取得
    LOST_BY_JULY_1 = "lost_by_7_1"  # 6/30以前の退職
    REVISED_JUL_SEP = "revised_from_jul_aug_sep"  # 7〜9月の随時改定等


def exclusion(year: int, acquired: date, lost: date | None,
              revision_effective: Month | None) -> Exclusion | None:
    """Why a person is outside the year's 算定基礎届, or None (§9.1)."""
    if acquired >= date(year, 6, 1):
        return Exclusion.ACQUIRED_FROM_JUNE
    if lost is not None and lost <= date(year, 7, 1):
        return Exclusion.LOST_BY_JULY_1
    if revision_effective is not None and revision_effective in (
            Month(year, 7), Month(year, 8), Month(year, 9)):
        return Exclusion.REVISED_JUL_SEP
    return None


@dataclass(frozen=True)
class TeijiResult:
    year: int
    used_months: tuple[Month, ...]
    remuneration: int | None  # 報酬月額 (None when the 従前 amount is kept)
    kenpo: Grade
    kounen: Grade
    effective_from: Month  # September of the year
    effective_to: Month  # August of the next year
    kept_previous: bool
    flags: tuple[str, ...] = field(default=())


def average(values: Sequence[int], settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> int:
    """Mean in whole yen; FLOOR drops the fraction (§9.6 [要確認])."""
    if settings.averaging is Averaging.FLOOR:
        return sum(values) // len(values)
    mean = Fraction(sum(values), len(values))
    return int(mean + Fraction(1, 2))  # half up  # pragma: no cover - the alternative setting


def usable_months(months: Sequence[PayMonth], worker: WorkerType, *,
                  teiji: bool = True) -> tuple[list[PayMonth], list[str]]:
    """The months that count, and the reasons others were dropped (§9.3, §9.5, §9.7)."""
    flags: list[str] = []
    candidates = []
    for m in months:
        if m.partial_first_month:
            flags.append(f"{m.month}: 途中入社の月を除外")
        elif m.leave_pay:
            flags.append(f"{m.month}: 休職給の月を除外 (保険者算定)")
        else:
            candidates.append(m)
    threshold = day_threshold(worker)
    used = [m for m in candidates if m.base_days >= threshold]
    for m in candidates:
        if m.base_days < threshold and (worker is not WorkerType.PART_TIMER or not teiji):
            flags.append(f"{m.month}: 支払基礎日数{m.base_days}日 < {threshold}日")
    if not used and worker is WorkerType.PART_TIMER and teiji:
        used = [m for m in candidates if 15 <= m.base_days < 17]
        if used:
            flags.append("短時間就労者: 17日以上の月がないため15日以上の月で算定")
    return used, flags


def teiji_kettei(*, year: int, months: Sequence[PayMonth], worker: WorkerType,
                 previous_kenpo: Grade, previous_kounen: Grade,
                 annual_months: Sequence[PayMonth] = (),
                 settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> TeijiResult:
    """The 定時決定 of one person for `year` from their April–June pay (W5)."""
    wanted = {Month(year, 4), Month(year, 5), Month(year, 6)}
    if any(m.month not in wanted for m in months):
        raise ValueError("定時決定 uses the pay paid in April, May and June only")
    on = date(year, 9, 1)
    used, flags = usable_months(months, worker)
    effective_from, effective_to = Month(year, 9), Month(year + 1, 8)
    if not used:
        flags.append("保険者算定: 算定対象月がないため従前の標準報酬月額")
        return TeijiResult(year, (), None, previous_kenpo, previous_kounen, effective_from,
                           effective_to, True, tuple(flags))
    if any(m.retro_pay for m in used):
        flags.append("保険者算定: 遡及支払額を除いた修正平均")
    remuneration = average([m.pay - m.retro_pay for m in used], settings)
    kenpo = lookup(Scheme.KENPO, remuneration, on)
    kounen = lookup(Scheme.KOUNEN, remuneration, on)
    if annual_months:
        annual_used, _ = usable_months(annual_months, worker)
        if annual_used:
            annual = average([m.pay - m.retro_pay for m in annual_used], settings)
            if abs(lookup(Scheme.KENPO, annual, on).grade - kenpo.grade) >= 2:
                flags.append(f"保険者算定(年間平均)の候補: 年間平均{annual}円 (本人の同意が必要)")
    return TeijiResult(year, tuple(m.month for m in used), remuneration, kenpo, kounen,
                       effective_from, effective_to, False, tuple(flags))
