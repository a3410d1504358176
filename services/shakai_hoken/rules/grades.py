"""Grade lookup (DOMAIN-SHAHO.md §1.1 item 2 [確認]; L1, L2, T1, T3).

Each row is "lower ≤ 報酬月額 < upper"; 健保 第1級 has no lower bound and 第50級 no upper bound;
厚年 第1級 is everything below 93,000 and 第32級 everything from 635,000. 健保 and 厚年 grades are
determined separately (§1.1 item 3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from services.shakai_hoken.rules.tables import GradeRow, Scheme, table_for


@dataclass(frozen=True)
class Grade:
    scheme: Scheme
    grade: int
    standard: int  # 標準報酬月額
    table_from: date


@dataclass(frozen=True)
class BothGrades:
    remuneration: int  # 報酬月額
    kenpo: Grade
    kounen: Grade


def _row(rows: tuple[GradeRow, ...], amount: int) -> GradeRow:
    for r in rows:
        if (r.lower is None or amount >= r.lower) and (r.upper is None or amount < r.upper):
            return r
    raise AssertionError("grade tables cover every amount")  # pragma: no cover


@lru_cache(maxsize=8192)
def lookup(scheme: Scheme, remuneration: int, on: date) -> Grade:
    """The grade of 報酬月額 `remuneration` in `scheme`'s table in force on `on` (memoised: pure, on
    constant data)."""
    if remuneration < 0:
        raise ValueError("報酬月額 must not be negative")
    table = table_for(scheme, on)
    r = _row(table.rows, remuneration)
    return Grade(scheme, r.grade, r.standard, table.effective_from)


def lookup_both(remuneration: int, on: date) -> BothGrades:
    """健保 and 厚年 grades of one 報酬月額 (W1)."""
    return BothGrades(remuneration, lookup(Scheme.KENPO, remuneration, on),
                      lookup(Scheme.KOUNEN, remuneration, on))


@lru_cache(maxsize=1024)
def grade_by_number(scheme: Scheme, grade: int, on: date) -> Grade:
    """The row of a known grade number (for a person's current grade)."""
    table = table_for(scheme, on)
    for r in table.rows:
        if r.grade == grade:
            return Grade(scheme, r.grade, r.standard, table.effective_from)
    raise ValueError(f"{scheme} has no grade {grade} on {on.isoformat()}")


def grade_by_standard(scheme: Scheme, standard: int, on: date) -> Grade:
    """The row whose 標準報酬月額 is `standard`."""
    table = table_for(scheme, on)
    for r in table.rows:
        if r.standard == standard:
            return Grade(scheme, r.grade, r.standard, table.effective_from)
    raise ValueError(f"{standard} is not a {scheme} 標準報酬月額 on {on.isoformat()}")


def top_grade(scheme: Scheme, on: date) -> int:
    return table_for(scheme, on).rows[-1].grade
