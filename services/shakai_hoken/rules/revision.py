"""随時改定 (月額変更届) and 育児休業等・産前産後休業終了時改定 (DOMAIN-SHAHO.md §10, §12.3).

随時改定 (§10.1 [確認]): 固定的賃金 changed; the three months from the month the changed pay is first
paid each have ≥ 17 支払基礎日数 (11 for 短時間労働者; no 15-day fallback); their average total pay gives
a grade 2 or more grades away, in the direction of the fixed-pay change (§10.2). It applies from the
4th month (§10.4, 健保法43条). 健保 and 厚年 are judged separately (§1.1 item 3).

Table edges (§10.3, 保発第4号 記2(1); T3's virtual-grade model): each table gets a virtual grade below
(健保 < 53,000 [要確認: 63,000 in one source, setting]; 厚年 < 83,000) and above (健保 ≥ 1,415,000;
厚年 ≥ 665,000) and then the ordinary 2-grade test applies; on the current side only the 報酬月額 behind
the current grade can reach a virtual grade. The 厚年 thresholds are dated data (they move from 2027-09).

終了時改定 (§12.3 [確認]): the three months from the month containing the day after the leave ends;
months under 17 (11) days dropped, the 15-day fallback for 短時間就労者; any 1-grade difference; no
固定的賃金 change needed; from the 4th month. The 育休 version is unavailable when a 産休 starts the day
after the 育休 ends (健保法43条の2 ただし書)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from services.shakai_hoken.rules.grades import Grade, grade_by_number, lookup, top_grade
from services.shakai_hoken.rules.months import Month
from services.shakai_hoken.rules.settings import DEFAULT_SETTINGS, ShahoRuleSettings
from services.shakai_hoken.rules.tables import Scheme
from services.shakai_hoken.rules.teiji import PayMonth, WorkerType, average, day_threshold, usable_months


class Direction(StrEnum):
    UP = "up"  # 昇給
    DOWN = "down"  # 降給


@dataclass(frozen=True)
class EdgeThresholds:
    effective_from: date
    bottom: int  # below: virtual grade 0
    top: int  # at or above: virtual grade top + 1
    source: str


KOUNEN_EDGES: tuple[EdgeThresholds, ...] = (
    EdgeThresholds(date(2020, 9, 1), 83_000, 665_000, "保発第4号 記2(1); T3 remuneration-revision.ts"),
)
KENPO_TOP = EdgeThresholds(date(2016, 4, 1), 53_000, 1_415_000,
                           "保発第4号 記2(1); T3; honounosharoushi.com (49→50 at 1,415,000)")


def edges(scheme: Scheme, on: date, settings: ShahoRuleSettings) -> EdgeThresholds:
    if scheme is Scheme.KENPO:
        return EdgeThresholds(KENPO_TOP.effective_from, settings.kenpo_bottom_exception, KENPO_TOP.top,
                              KENPO_TOP.source)
    live = [e for e in KOUNEN_EDGES if e.effective_from <= on]
    return max(live, key=lambda e: e.effective_from)


def virtual_grade(scheme: Scheme, amount: int, on: date, settings: ShahoRuleSettings) -> int:
    """The grade of `amount` with the virtual grades below and above the table."""
    e = edges(scheme, on, settings)
    if amount < e.bottom:
        return 0
    if amount >= e.top:
        return top_grade(scheme, on) + 1
    return lookup(scheme, amount, on).grade


def current_virtual_grade(scheme: Scheme, grade: int, remuneration: int | None, on: date,
                          settings: ShahoRuleSettings) -> int:
    """The current side: the grade itself, except at the table edges where the 報酬月額 behind it
    reaches a virtual grade (§10.3)."""
    if remuneration is None:
        return grade
    top = top_grade(scheme, on)
    e = edges(scheme, on, settings)
    if grade == top and remuneration >= e.top:
        return top + 1
    if grade == 1 and remuneration < e.bottom:
        return 0
    return grade


@dataclass(frozen=True)
class SchemeRevision:
    scheme: Scheme
    current: Grade
    new: Grade
    gap: int  # in the virtual-grade model
    revised: bool
    reason: str


@dataclass(frozen=True)
class RevisionResult:
    candidate: bool
    average: int | None
    effective_from: Month | None
    kenpo: SchemeRevision | None
    kounen: SchemeRevision | None
    reason: str


def _scheme(scheme: Scheme, current_grade: int, current_rem: int | None, avg: int, on: date,
            direction: Direction | None, min_gap: int, settings: ShahoRuleSettings) -> SchemeRevision:
    current = grade_by_number(scheme, current_grade, on)
    new = lookup(scheme, avg, on)
    cur_v = current_virtual_grade(scheme, current_grade, current_rem, on, settings)
    new_v = virtual_grade(scheme, avg, on, settings)
    gap = new_v - cur_v
    if (direction is Direction.UP and gap < 0) or (direction is Direction.DOWN and gap > 0):
        return SchemeRevision(scheme, current, new, gap, False, "固定的賃金の変動と等級の変動の方向が逆")
    if abs(gap) < min_gap or new.grade == current.grade:
        return SchemeRevision(scheme, current, new, gap, False, f"等級差{abs(gap)} < {min_gap}")
    return SchemeRevision(scheme, current, new, gap, True, f"等級差{abs(gap)}")


def zuiji_kaitei(*, first_paid: Month, months: Sequence[PayMonth], direction: Direction,
                 worker: WorkerType, current_kenpo_grade: int | None, current_kounen_grade: int | None,
                 current_remuneration: int | None = None,
                 settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> RevisionResult:
    """Is this a 随時改定 (月額変更届) candidate? `months` are the three months from `first_paid`,
    the month the changed fixed pay was first paid (W6, W7, W8)."""
    expected = [first_paid.plus(i) for i in range(3)]
    if sorted(m.month for m in months) != expected:
        raise ValueError(f"随時改定 needs the three months {', '.join(map(str, expected))}")
    threshold = day_threshold(worker)
    short = [m for m in months if m.base_days < threshold]
    if short:
        return RevisionResult(False, None, None, None, None,
                              f"支払基礎日数{threshold}日未満の月がある: {', '.join(str(m.month) for m in short)}")
    avg = average([m.pay for m in months], settings)
    effective = first_paid.plus(3)
    on = effective.first_day()
    k = (_scheme(Scheme.KENPO, current_kenpo_grade, current_remuneration, avg, on, direction, 2, settings)
         if current_kenpo_grade is not None else None)
    p = (_scheme(Scheme.KOUNEN, current_kounen_grade, current_remuneration, avg, on, direction, 2, settings)
         if current_kounen_grade is not None else None)
    candidate = bool((k and k.revised) or (p and p.revised))
    return RevisionResult(candidate, avg, effective if candidate else None, k, p,
                          "随時改定に該当" if candidate else "随時改定に該当しない")


def leave_end_revision(*, leave_end: date, months: Sequence[PayMonth], worker: WorkerType,
                       current_kenpo_grade: int | None, current_kounen_grade: int | None,
                       sanzen_starts_next_day: bool = False,
                       settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> RevisionResult:
    """育児休業等終了時改定 / 産前産後休業終了時改定 (W15): 1 grade is enough."""
    start = Month.of(leave_end + timedelta(days=1))
    expected = [start.plus(i) for i in range(3)]
    if sorted(m.month for m in months) != expected:
        raise ValueError(f"終了時改定 needs the three months {', '.join(map(str, expected))}")
    if sanzen_starts_next_day:
        return RevisionResult(False, None, None, None, None,
                              "育休終了の翌日に産休が始まるため終了時改定はできない (健保法43条の2)")
    used, flags = usable_months(months, worker)
    if not used:
        return RevisionResult(False, None, None, None, None, "算定できる月がない; " + "; ".join(flags))
    avg = average([m.pay for m in used], settings)
    effective = start.plus(3)
    on = effective.first_day()
    k = (_scheme(Scheme.KENPO, current_kenpo_grade, None, avg, on, None, 1, settings)
         if current_kenpo_grade is not None else None)
    p = (_scheme(Scheme.KOUNEN, current_kounen_grade, None, avg, on, None, 1, settings)
         if current_kounen_grade is not None else None)
    candidate = bool((k and k.revised) or (p and p.revised))
    return RevisionResult(candidate, avg, effective if candidate else None, k, p,
                          "終了時改定に該当" if candidate else "等級に差がない")
