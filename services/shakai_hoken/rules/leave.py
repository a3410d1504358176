"""産前産後休業 and 育児休業等 premium exemptions (DOMAIN-SHAHO.md §12.1, §12.2 [確認]).

* 産休: exempt from the start month to the month before the month containing the day after the end;
  a bonus paid in an exempt month is exempt (健保法159条の3, 厚年法81条の2の2).
* 育休 (leave starting on or after 2022-10-01): the same months, plus the start month when the start
  and the day after the end fall in the same month and the leave in it is 14 days or more (calendar
  days). A bonus is exempt only in an exempt month and when the continuous leave is longer than one
  month counted by calendar (民法143条: one month from 6/10 ends 7/9; from 1/31 it ends at the end of
  February) (健保法159条, 厚年法81条の2; 健保則135条)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from services.shakai_hoken.rules.months import Month, months_between


@dataclass(frozen=True)
class Exemption:
    months: tuple[Month, ...]
    bonus_exempt_long_enough: bool  # for 育休: longer than one month; 産休: always True

    def month_exempt(self, m: Month) -> bool:
        return m in self.months

    def bonus_exempt(self, paid_on: date) -> bool:
        return self.bonus_exempt_long_enough and Month.of(paid_on) in self.months


def _range(start: date, end: date) -> list[Month]:
    if end < start:
        raise ValueError("休業の終了日が開始日より前")
    return months_between(Month.of(start), Month.of(end + timedelta(days=1)).plus(-1))


def sanzen_sango(start: date, end: date) -> Exemption:
    """産前産後休業 (W13)."""
    return Exemption(tuple(_range(start, end)), True)


def one_month_period_end(start: date) -> date:
    """The last day of a one-month period starting on `start` (民法143条): the day before the
    応当日, or the last day of the month when there is no 応当日."""
    nxt = Month.of(start).plus(1)
    last = calendar.monthrange(nxt.year, nxt.month)[1]
    if start.day > last:
        return date(nxt.year, nxt.month, last)
    return date(nxt.year, nxt.month, start.day) - timedelta(days=1)


def ikuji(start: date, end: date) -> Exemption:
    """育児休業等 (W14), for leave starting on or after 2022-10-01."""
    if start < date(2022, 10, 1):
        raise ValueError("this rule covers 育児休業等 starting on or after 2022-10-01")
    months = _range(start, end)
    if not months and (end - start).days + 1 >= 14:
        months = [Month.of(start)]
    return Exemption(tuple(months), end > one_month_period_end(start))
