"""DOMAIN.md A2 deadline rules and the worked examples (moved to the next 行政機関 business day)."""

from datetime import date

from services.koyo_hoken.rules import deadlines as dl


def test_shikaku_shutoku_2025_04_15_due_2025_05_12():
    d = dl.shikaku_shutoku(date(2025, 4, 15))
    assert d.raw == date(2025, 5, 10)  # a Saturday
    assert d.due == date(2025, 5, 12) and d.shifted_by == "practice"
    # The fixed-date shift is practice: a setting can turn it off.
    assert dl.shikaku_shutoku(date(2025, 4, 15), shift_fixed_dates=False).due == date(2025, 5, 10)


def test_shikaku_shutoku_december_goes_to_next_january():
    d = dl.shikaku_shutoku(date(2025, 12, 3))
    assert d.raw == date(2026, 1, 10)  # Saturday; 1/11 Sunday, 1/12 成人の日
    assert d.due == date(2026, 1, 13)


def test_soshitsu_11th_12th_due_22nd():
    soshitsu = dl.soshitsu_date_for(date(2025, 9, 11))
    assert soshitsu == date(2025, 9, 12)
    d = dl.shikaku_soshitsu(soshitsu)
    assert d.raw == date(2025, 9, 22) and d.due == date(2025, 9, 22) and d.shifted_by == "none"


def test_soshitsu_year_end_2025_12_19_due_2026_01_05():
    soshitsu = dl.soshitsu_date_for(date(2025, 12, 19))
    assert soshitsu == date(2025, 12, 20)
    d = dl.shikaku_soshitsu(soshitsu)
    assert d.raw == date(2025, 12, 30)
    assert d.due == date(2026, 1, 5) and d.shifted_by == "law"


def test_tenkin_within_10_days_from_the_day_after():
    d = dl.tenkin(date(2025, 4, 25))
    assert d.raw == date(2025, 5, 5)  # こどもの日; 5/6 振替休日
    assert d.due == date(2025, 5, 7)


def test_due_state():
    assert dl.due_state(date(2025, 5, 12), date(2025, 5, 13)) == "overdue"
    assert dl.due_state(date(2025, 5, 12), date(2025, 5, 12)) == "due_soon"
    assert dl.due_state(date(2025, 5, 12), date(2025, 5, 5)) == "due_soon"
    assert dl.due_state(date(2025, 5, 12), date(2025, 5, 4)) == "upcoming"
