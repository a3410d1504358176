"""DOMAIN.md A4 離職証明書 rows: month-end slices, counting, wage rows, the 59+ rule."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.koyo_hoken.rules import rishoku as rs


def monthly(start_month: date, rishoku: date, amount=300_000):
    """Monthly wage periods closing on 末日, from `start_month` to the (cut) period of the 離職日."""
    out, d = [], start_month
    while d <= rishoku:
        end = min(rs.months_back(d, -1) - timedelta(days=1), rishoku)
        out.append(rs.WagePeriod(d, end, (end - d).days + 1, amount, 0))
        d = end + timedelta(days=1)
    return out


def test_slices_month_end_rule():
    assert rs.slices(date(2025, 10, 20), 2) == [(date(2025, 9, 21), date(2025, 10, 20)),
                                               (date(2025, 8, 21), date(2025, 9, 20))]
    assert rs.slices(date(2025, 10, 30), 3) == [(date(2025, 9, 30), date(2025, 10, 30)),
                                               (date(2025, 8, 31), date(2025, 9, 29)),
                                               (date(2025, 7, 31), date(2025, 8, 30))]


def test_worked_example_2025_10_20_monthly_paid():
    r = date(2025, 10, 20)
    cert = rs.build(rs.Input(r, date(2020, 4, 1), "monthly_full", 31, monthly(date(2024, 10, 1), r)))
    assert len(cert.insured_rows) == 12 and cert.requirement_shown and cert.counted_months == 12
    assert (cert.insured_rows[0].start, cert.insured_rows[0].end) == (date(2025, 9, 21), r)
    assert (cert.insured_rows[-1].start, cert.insured_rows[-1].end) == (date(2024, 10, 21), date(2024, 11, 20))
    assert all(row.basic_days >= 11 and row.days_source == "calendar_days" for row in cert.insured_rows)
    first = cert.wage_rows[0]
    assert (first.start, first.end, first.complete, first.qualifying) == (date(2025, 10, 1), r, False, False)
    assert (cert.wage_rows[1].start, cert.wage_rows[1].end) == (date(2025, 9, 1), date(2025, 9, 30))
    assert cert.qualifying_wage_rows == 6 and cert.wage_rows_sufficient and len(cert.wage_rows) == 7
    assert cert.flags == () and cert.sheets == 1


def test_not_shown_is_flagged_and_tokutei_needs_6_in_1_year():
    r = date(2025, 10, 20)
    short = rs.Input(r, date(2025, 2, 21), "monthly_full", 31, monthly(date(2025, 2, 1), r))
    cert = rs.build(short)
    assert not cert.requirement_shown and cert.counted_months == 8
    assert any("12か月" in f for f in cert.flags)
    t = rs.build(rs.Input(r, date(2025, 2, 21), "monthly_full", 31, monthly(date(2025, 2, 1), r), tokutei=True))
    assert t.requirement_shown and t.required_months == 6 and t.window_years == 1 and len(t.insured_rows) == 6


def test_half_month_first_fragment_needs_15_days_and_11_basic_days():
    r = date(2025, 10, 20)
    # Insured from 2025-03-05: the fragment 03-05..03-20 has 16 days → ½ month.
    cert = rs.build(rs.Input(r, date(2025, 3, 5), "monthly_full", 31, monthly(date(2025, 3, 1), r)))
    frag = cert.insured_rows[-1]
    assert frag.fragment and frag.start == date(2025, 3, 5) and frag.counts == Decimal("0.5")
    assert cert.counted_months == Decimal("7.5")
    cert2 = rs.build(rs.Input(r, date(2025, 3, 10), "monthly_full", 31, monthly(date(2025, 3, 1), r)))
    assert cert2.insured_rows[-1].counts == 0  # 11 days < 15


def test_80_hours_counts_from_2020_08_01_and_6_days_40_hours_from_2028_10_01():
    def one(r, days, hours):
        s = rs.slices(r, 1)[0]
        cert = rs.build(rs.Input(r, None, "other", 31, [], [rs.SliceDays(s[0], days, Decimal(hours))]))
        return cert.insured_rows[0].counts

    assert one(date(2020, 7, 31), 10, 90) == 0
    assert one(date(2020, 8, 1), 10, 80) == 1
    assert one(date(2020, 8, 1), 10, 79) == 0
    assert one(date(2028, 9, 30), 6, 40) == 0
    assert one(date(2028, 10, 1), 6, 0) == 1
    assert one(date(2028, 10, 1), 5, 40) == 1


def test_unknown_days_are_flagged_never_guessed():
    r = date(2025, 10, 20)
    cert = rs.build(rs.Input(r, None, "other", 31, monthly(date(2025, 1, 1), r)))
    assert cert.insured_rows[0].days_source == "unknown" and cert.insured_rows[0].counts == 0
    assert any("基礎日数が不明" in f for f in cert.flags)


def test_wage_history_checks():
    r = date(2025, 10, 20)
    sep = rs.WagePeriod(date(2025, 9, 1), date(2025, 9, 30), 30, 1, 0)
    with pytest.raises(rs.RishokuError):  # total is not A + B
        rs.build(rs.Input(r, None, "monthly_full", 31, [rs.WagePeriod(sep.start, sep.end, 30, 1, 2, 4)]))
    with pytest.raises(rs.RishokuError):  # overlapping periods
        rs.build(rs.Input(r, None, "monthly_full", 31,
                          [sep, rs.WagePeriod(date(2025, 9, 15), date(2025, 10, 14), 30, 1, 0)]))


def test_closing_day_20th():
    r = date(2025, 10, 31)
    periods = [rs.WagePeriod(date(2025, 10, 21), r, 11, 100_000, 0)]
    d = date(2025, 9, 21)
    for _ in range(7):
        end = rs.months_back(d, -1) - timedelta(days=1)
        periods.append(rs.WagePeriod(d, end, 30, 300_000, 0))
        d = rs.months_back(d, 1)
    cert = rs.build(rs.Input(r, None, "monthly_full", 20, periods))
    assert not cert.wage_rows[0].complete and cert.wage_rows[1].complete
    assert cert.qualifying_wage_rows == 6


def test_mandatory_at_59_on_the_rishoku_date():
    assert rs.required(date(1966, 10, 21), date(2025, 10, 20))  # 59 reached on 10/20
    assert not rs.required(date(1966, 10, 22), date(2025, 10, 20))
    assert rs.required(date(1950, 1, 1), date(2025, 10, 20))
