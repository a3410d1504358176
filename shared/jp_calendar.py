"""The 行政機関 calendar: which days are business days for filing deadlines (DOMAIN.md C10).

Not a business day: Saturday, Sunday, a 祝日 (with 振替休日 and 国民の休日, from jpholiday, built on
Cabinet Office data; its README says dates through 2026 are checked, later years computed — 春分/秋分
are fixed only in the 官報 of the February before), and 12/29–1/3 (行政機関の休日に関する法律 1条).
Every service that computes a deadline uses this one function set."""

from __future__ import annotations

from datetime import date, timedelta

import jpholiday


def is_year_end_closure(d: date) -> bool:
    """12/29 to 1/3, closed by 行政機関の休日に関する法律."""
    return (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)


def is_business_day(d: date) -> bool:
    return d.weekday() < 5 and not jpholiday.is_holiday(d) and not is_year_end_closure(d)


def next_business_day(d: date) -> date:
    """`d` itself when it is a business day, else the first business day after it (翌開庁日)."""
    while not is_business_day(d):
        d += timedelta(days=1)
    return d


def business_day_after(d: date) -> date:
    """The first business day strictly after `d` (e.g. 'the business day after the contract end')."""
    return next_business_day(d + timedelta(days=1))
