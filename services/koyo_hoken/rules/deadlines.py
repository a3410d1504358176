"""Filing deadlines of the 雇用保険 procedures (shared/DOMAIN.md A2, appendix §6, C10).

Each deadline is the raw date by its rule, then moved to the next 行政機関 business day
(``shared.jp_calendar.next_business_day``: weekends, 祝日, 12/29–1/3).

* 資格取得届: the 10th of the month after the 取得 month [確認]; shifted by practice (a fixed calendar
  date) — a setting, default on; the legal basis is [要確認].
* 資格喪失届 (and 離職証明書): 10 days counted from the day after the 喪失日 (喪失日 = 離職日 + 1)
  [確認]; shifted by law (a period: 行政機関の休日に関する法律2条).
* 転勤届: 10 days counted from the day after the transfer [確認]; shifted by law.

翌日起算: the first day is not counted, so "10 days from the day after X" ends on X + 10."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from shared.jp_calendar import next_business_day

DueState = Literal["overdue", "due_soon", "upcoming"]


@dataclass(frozen=True)
class Deadline:
    rule: str  # rule id, e.g. "shikaku_shutoku/翌月10日"
    base_date: date  # the date the rule counts from (取得日, 喪失日, 転勤日)
    raw: date  # by the rule alone
    due: date  # moved to a business day when needed
    shifted_by: Literal["none", "law", "practice"]
    source: str


def _shift(rule: str, base: date, raw: date, kind: Literal["law", "practice"], shift: bool,
           source: str) -> Deadline:
    due = next_business_day(raw) if shift else raw
    return Deadline(rule, base, raw, due, kind if due != raw else "none", source)


def shikaku_shutoku(acquired: date, shift_fixed_dates: bool = True) -> Deadline:
    """資格取得届: by the 10th of the month after the month of 取得 (雇用保険法施行規則6条)."""
    y, m = (acquired.year + 1, 1) if acquired.month == 12 else (acquired.year, acquired.month + 1)
    return _shift("shikaku_shutoku/翌月10日", acquired, date(y, m, 10), "practice", shift_fixed_dates,
                  "雇用保険法施行規則6条; DOMAIN.md A2 (翌営業日への繰越しは実務 [要確認])")


def soshitsu_date_for(rishoku: date) -> date:
    """喪失日 = the day after the 離職日 (A2)."""
    return rishoku + timedelta(days=1)


def shikaku_soshitsu(soshitsu: date) -> Deadline:
    """資格喪失届 (and the 離職証明書 attached to it): within 10 days from the day after the 喪失日."""
    return _shift("shikaku_soshitsu/喪失日の翌日から10日", soshitsu, soshitsu + timedelta(days=10), "law", True,
                  "雇用保険法施行規則7条; 行政機関の休日に関する法律2条; DOMAIN.md A2")


def tenkin(transferred: date) -> Deadline:
    """転勤届: within 10 days from the day after the transfer, to the new office's ハローワーク."""
    return _shift("tenkin/転勤日の翌日から10日", transferred, transferred + timedelta(days=10), "law", True,
                  "雇用保険法施行規則13条; 行政機関の休日に関する法律2条; DOMAIN.md A2")


def due_state(due: date, today: date, soon_days: int = 7) -> DueState:
    """overdue: the due date has passed; due_soon: within `soon_days` (inclusive) from today."""
    if due < today:
        return "overdue"
    if (due - today).days <= soon_days:
        return "due_soon"
    return "upcoming"
