"""離職証明書: which periods are listed, what counts, and when the form is mandatory.

Sources: shared/DOMAIN.md A4 and its appendix §4 (which wins where they differ).

* ⑧ 被保険者期間算定対象期間 [確認]: one-month slices back from the 離職日. The first slice starts on
  the day corresponding to the day after the 離職日, one month earlier; a day that does not exist in
  that month becomes the month's last day (離職 10/30 → 9/30–10/30, 8/31–9/29, 7/31–8/30).
* ⑨ a slice counts as one month with 11+ 賃金支払基礎日数; for 離職 on or after 2020-08-01 also a full
  slice with 80+ hours [確認]; for 離職 on or after 2028-10-01 the test is 6 days / 40 hours [確認]
  (keyed on the 離職日 like the 2020 change — transitional rules **[要確認]**).
* ½ month [確認, appendix §4]: only the *first* fragment of the insured period (from the 資格取得日 to
  the day before the first 応当日), with 15+ calendar days and 11+ 基礎日数; the hours test does not
  extend to it [導出]. From 2028-10-01 the days figure follows the new test (6) **[要確認]**.
* Requirement [確認]: 12 counted months within the 2 years before the 離職日; 6 within 1 year for
  特定受給資格者 / 特定理由離職者. Rows are written until the requirement is shown (13 rows per sheet,
  then a 続紙). Extension of the window for illness etc. (受給要件の緩和) is not modelled.
* ⑨ 基礎日数 per slice [確認 counting rules]: 完全月給 → calendar days. For other pay forms the
  days of each slice come from attendance (`slice_days`) or from a wage period with the same dates;
  otherwise they are unknown, the slice is not counted and the certificate is flagged — never guessed.
* ⑩–⑫ [確認 in part]: per 賃金締切 period, latest first; the period cut by the 離職日 is written but not
  used. At least 6 complete periods with 11+ days (80+ hours from 2020-08-01; 6 days / 40 hours from
  2028-10-01) must be present — the exact 記入要領 wording is **[要確認]**, so this is the
  recommendation of appendix §4: require 6, allow more.
* Mandatory when the leaver is **59 or older on the 離職日** [確認] (age per ``age.py``)."""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from services.koyo_hoken.rules.age import age_on

PayType = Literal["monthly_full", "other"]
DaysSource = Literal["slice_days", "wage_period", "calendar_days", "unknown"]
ROWS_PER_SHEET = 13
MANDATORY_AGE = 59
WAGE_ROWS_REQUIRED = 6


@dataclass(frozen=True)
class CountRule:
    version: str
    effective_from: date  # by 離職日
    min_days: int
    min_hours: Decimal | None


COUNT_RULES: tuple[CountRule, ...] = (
    CountRule("hihokensha-kikan/11days", date(1, 1, 1), 11, None),
    CountRule("hihokensha-kikan/2020-08-01", date(2020, 8, 1), 11, Decimal(80)),
    CountRule("hihokensha-kikan/2028-10-01", date(2028, 10, 1), 6, Decimal(40)),
)


def count_rule_on(rishoku: date) -> CountRule:
    current = COUNT_RULES[0]
    for r in COUNT_RULES:
        if r.effective_from <= rishoku:
            current = r
    return current


class RishokuError(ValueError):
    """Wage history that cannot be read as a 離職証明書 (overlaps, totals that do not add up...)."""


@dataclass(frozen=True)
class WagePeriod:
    """One 賃金締切 period of the wage history (⑩–⑫)."""

    start: date
    end: date
    basic_days: int
    wages_a: int  # 月・週その他一定の期間によって支払われたもの
    wages_b: int  # 日・時間・出来高によって支払われたもの
    total: int | None = None  # checked = A + B when given
    hours: Decimal | None = None


@dataclass(frozen=True)
class SliceDays:
    """⑨ for one ⑧ slice (from attendance), identified by its start date."""

    start: date
    basic_days: int
    hours: Decimal | None = None


@dataclass(frozen=True)
class Input:
    rishoku_date: date
    insured_since: date | None
    pay_type: PayType
    closing_day: int  # 賃金締切日, 1–31; 31 (or a day past the month's end) = 末日
    wage_periods: Sequence[WagePeriod]
    slice_days: Sequence[SliceDays] = ()
    tokutei: bool = False  # 特定受給資格者 / 特定理由離職者: 6 months in 1 year


@dataclass(frozen=True)
class InsuredMonthRow:
    """One ⑧/⑨ row."""

    start: date
    end: date
    basic_days: int | None
    hours: Decimal | None
    days_source: DaysSource
    fragment: bool  # the first fragment of the insured period (½-month candidate)
    counts: Decimal  # 1, 0.5 or 0


@dataclass(frozen=True)
class WageRow:
    """One ⑩–⑫ row."""

    start: date
    end: date
    basic_days: int
    wages_a: int
    wages_b: int
    total: int
    complete: bool
    qualifying: bool


@dataclass(frozen=True)
class Certificate:
    rishoku_date: date
    rule_version: str
    insured_rows: tuple[InsuredMonthRow, ...]
    wage_rows: tuple[WageRow, ...]
    counted_months: Decimal
    required_months: int
    window_years: int
    requirement_shown: bool
    qualifying_wage_rows: int
    wage_rows_sufficient: bool
    sheets: int
    flags: tuple[str, ...] = field(default_factory=tuple)


def _last_day(y: int, m: int) -> int:
    return calendar.monthrange(y, m)[1]


def months_back(d: date, k: int) -> date:
    """The day corresponding to `d`, `k` months earlier; the month's last day when it does not exist."""
    total = d.year * 12 + (d.month - 1) - k
    y, m = divmod(total, 12)
    return date(y, m + 1, min(d.day, _last_day(y, m + 1)))


def slices(rishoku: date, count: int) -> list[tuple[date, date]]:
    """The first `count` ⑧ slices, latest first (A4 month-end rule)."""
    anchor = rishoku + timedelta(days=1)
    out: list[tuple[date, date]] = []
    end = rishoku
    for k in range(1, count + 1):
        start = months_back(anchor, k)
        out.append((start, end))
        end = start - timedelta(days=1)
    return out


def is_closing_date(d: date, closing_day: int) -> bool:
    return d.day == min(closing_day, _last_day(d.year, d.month))


def required(birth_date: date, rishoku_date: date) -> bool:
    """A2: the 離職証明書 is mandatory when the leaver is 59 or older on the 離職日."""
    return age_on(birth_date, rishoku_date) >= MANDATORY_AGE


def _validate(inp: Input) -> list[WagePeriod]:
    if not 1 <= inp.closing_day <= 31:
        raise RishokuError("賃金締切日は1〜31（31は末日）で指定してください")
    periods = sorted(inp.wage_periods, key=lambda p: p.start, reverse=True)
    for p in periods:
        if p.end < p.start:
            raise RishokuError(f"賃金支払対象期間 {p.start}〜{p.end} の終了日が開始日より前です")
        if p.end > inp.rishoku_date:
            raise RishokuError(f"賃金支払対象期間 {p.start}〜{p.end} が離職日より後に及んでいます")
        if not 0 <= p.basic_days <= (p.end - p.start).days + 1:
            raise RishokuError(f"賃金支払対象期間 {p.start}〜{p.end} の基礎日数が期間の日数を超えています")
        if p.wages_a < 0 or p.wages_b < 0:
            raise RishokuError(f"賃金支払対象期間 {p.start}〜{p.end} の賃金額が負です")
        if p.total is not None and p.total != p.wages_a + p.wages_b:
            raise RishokuError(f"賃金支払対象期間 {p.start}〜{p.end} の計がA＋Bと一致しません")
    for newer, older in itertools.pairwise(periods):
        if older.end >= newer.start:
            raise RishokuError(f"賃金支払対象期間 {older.start}〜{older.end} と {newer.start}〜{newer.end} "
                               "が重なっています")
    if inp.insured_since is not None and inp.insured_since > inp.rishoku_date:
        raise RishokuError("資格取得日が離職日より後です")
    return periods


def build(inp: Input) -> Certificate:
    """The ⑧–⑫ rows of a 離職証明書 and whether they show what is required (see module docstring)."""
    periods = _validate(inp)
    rule = count_rule_on(inp.rishoku_date)
    required_months, window_years = (6, 1) if inp.tokutei else (12, 2)
    by_dates = {(p.start, p.end): p for p in periods}
    by_slice = {s.start: s for s in inp.slice_days}
    flags: list[str] = []

    rows: list[InsuredMonthRow] = []
    counted = Decimal(0)
    for start, end in slices(inp.rishoku_date, window_years * 12):
        if counted >= required_months:
            break
        fragment = inp.insured_since is not None and inp.insured_since > start
        if fragment:
            assert inp.insured_since is not None
            if inp.insured_since > end:
                break
            start = inp.insured_since
        days: int | None
        hours: Decimal | None = None
        source: DaysSource
        if start in by_slice:
            days, hours, source = by_slice[start].basic_days, by_slice[start].hours, "slice_days"
        elif (start, end) in by_dates:
            p = by_dates[(start, end)]
            days, hours, source = p.basic_days, p.hours, "wage_period"
        elif inp.pay_type == "monthly_full":
            days, source = (end - start).days + 1, "calendar_days"
        else:
            days, source = None, "unknown"
            flags.append(f"⑧ {start}〜{end} の基礎日数が不明です（勤怠から入力してください）")
        value = Decimal(0)
        if days is not None:
            if fragment:
                if (end - start).days + 1 >= 15 and days >= rule.min_days:
                    value = Decimal("0.5")
            elif days >= rule.min_days or (
                    rule.min_hours is not None and hours is not None and hours >= rule.min_hours):
                value = Decimal(1)
        rows.append(InsuredMonthRow(start, end, days, hours, source, fragment, value))
        counted += value
        if fragment:
            break
    shown = counted >= required_months
    if not shown:
        flags.append(f"離職日以前{window_years}年間に被保険者期間{required_months}か月が確認できません"
                     f"（{counted}か月）")

    wage_rows: list[WageRow] = []
    qualifying = 0
    for p in periods:
        if qualifying >= WAGE_ROWS_REQUIRED:
            break
        complete = is_closing_date(p.end, inp.closing_day) and is_closing_date(p.start - timedelta(days=1),
                                                                                inp.closing_day)
        ok = complete and (p.basic_days >= rule.min_days or (
            rule.min_hours is not None and p.hours is not None and p.hours >= rule.min_hours))
        qualifying += ok
        wage_rows.append(WageRow(p.start, p.end, p.basic_days, p.wages_a, p.wages_b, p.wages_a + p.wages_b,
                                 complete, ok))
    if qualifying < WAGE_ROWS_REQUIRED:
        flags.append(f"⑩〜⑫に基礎日数{rule.min_days}日以上の完全な賃金月が{WAGE_ROWS_REQUIRED}か月分ありません"
                     f"（{qualifying}か月）")
    sheets = max(1, -(-max(len(rows), len(wage_rows)) // ROWS_PER_SHEET))
    return Certificate(inp.rishoku_date, rule.version, tuple(rows), tuple(wage_rows), counted, required_months,
                       window_years, shown, qualifying, qualifying >= WAGE_ROWS_REQUIRED, sheets, tuple(flags))
