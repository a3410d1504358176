"""Rules beyond the worked examples: deadlines with 行政機関の休日, 定時決定 exclusions and day rules,
edge exceptions, rates data, office-level employer share."""

from datetime import date
from decimal import Decimal

import pytest

from services.shakai_hoken.rules import deadlines, premiums, rates, revision, teiji
from services.shakai_hoken.rules.deadlines import Procedure, deadline
from services.shakai_hoken.rules.grades import lookup
from services.shakai_hoken.rules.months import Month
from services.shakai_hoken.rules.settings import ShahoRuleSettings
from services.shakai_hoken.rules.tables import Scheme
from services.shakai_hoken.rules.teiji import PayMonth, WorkerType

ON = date(2026, 9, 1)


def test_santei_7_10_and_its_shift():
    assert deadline(Procedure.SANTEI, date(2026, 1, 1)).due == date(2026, 7, 10)  # Friday
    d = deadline(Procedure.SANTEI, date(2027, 1, 1))
    assert d.raw == date(2027, 7, 10) and d.due == date(2027, 7, 12) and d.shifted_by == "practice"
    off = deadline(Procedure.SANTEI, date(2027, 1, 1), ShahoRuleSettings(shift_fixed_dates=False))
    assert off.due == date(2027, 7, 10)


def test_period_deadlines_over_holidays():
    # 賞与 paid 2026-12-25 → raw 12/30 (closure) → 2027-01-04.
    d = deadline(Procedure.SHOYO, date(2026, 12, 25))
    assert d.raw == date(2026, 12, 30) and d.due == date(2027, 1, 4) and d.shifted_by == "law"
    # 取得 2026-04-30 → raw 5/5 (こどもの日) → 5/6 振替休日 → 5/7.
    assert deadline(Procedure.SHUTOKU, date(2026, 4, 30)).due == date(2026, 5, 7)
    assert deadline(Procedure.SHUTOKU, date(2026, 4, 30),
                    ShahoRuleSettings(shift_period_deadlines=False)).due == date(2026, 5, 5)
    g = deadline(Procedure.GEPPEN, date(2026, 10, 1))
    assert g.due is None and "速やかに" in g.source
    assert deadline(Procedure.FUYOU, date(2026, 6, 1)).due == date(2026, 6, 8)  # 6/6 Sat → Mon


def test_teiji_exclusions():
    assert teiji.exclusion(2026, date(2026, 6, 1), None, None) is teiji.Exclusion.ACQUIRED_FROM_JUNE
    assert teiji.exclusion(2026, date(2026, 5, 31), None, None) is None
    assert teiji.exclusion(2026, date(2020, 4, 1), date(2026, 7, 1), None) is teiji.Exclusion.LOST_BY_JULY_1
    assert teiji.exclusion(2026, date(2020, 4, 1), date(2026, 7, 2), None) is None
    assert teiji.exclusion(2026, date(2020, 4, 1), None, Month(2026, 8)) is teiji.Exclusion.REVISED_JUL_SEP
    assert teiji.exclusion(2026, date(2020, 4, 1), None, Month(2026, 10)) is None


def _prev():
    return lookup(Scheme.KENPO, 200_000, ON), lookup(Scheme.KOUNEN, 200_000, ON)


def test_teiji_short_time_worker_11_days_and_part_timer_15_day_fallback():
    k, p = _prev()
    months = [PayMonth(Month(2026, 4), 100_000, 12), PayMonth(Month(2026, 5), 90_000, 10),
              PayMonth(Month(2026, 6), 110_000, 16)]
    st = teiji.teiji_kettei(year=2026, months=months, worker=WorkerType.SHORT_TIME_WORKER,
                            previous_kenpo=k, previous_kounen=p)
    assert st.used_months == (Month(2026, 4), Month(2026, 6)) and st.remuneration == 105_000
    pt = teiji.teiji_kettei(year=2026, months=months, worker=WorkerType.PART_TIMER,
                            previous_kenpo=k, previous_kounen=p)
    assert pt.used_months == (Month(2026, 6),) and pt.remuneration == 110_000
    ordinary = teiji.teiji_kettei(year=2026, months=months, worker=WorkerType.ORDINARY,
                                  previous_kenpo=k, previous_kounen=p)
    assert ordinary.kept_previous and ordinary.kenpo == k and any("保険者算定" in f for f in ordinary.flags)


def test_teiji_partial_month_back_pay_and_floor_average():
    k, p = _prev()
    r = teiji.teiji_kettei(year=2026, worker=WorkerType.ORDINARY, previous_kenpo=k, previous_kounen=p,
                           months=[PayMonth(Month(2026, 4), 150_000, 20, partial_first_month=True),
                                   PayMonth(Month(2026, 5), 260_000, 31, retro_pay=30_000),
                                   PayMonth(Month(2026, 6), 249_999, 30)])
    # (230,000 + 249,999) / 2 = 239,999.5 → 239,999 (floor) → 健保 19 (230,000–250,000)
    assert r.remuneration == 239_999 and r.kenpo.grade == 19
    assert any("修正平均" in f for f in r.flags) and any("途中入社" in f for f in r.flags)
    with pytest.raises(ValueError):
        teiji.teiji_kettei(year=2026, worker=WorkerType.ORDINARY, previous_kenpo=k, previous_kounen=p,
                           months=[PayMonth(Month(2026, 7), 1, 31)])


def test_teiji_annual_average_is_flagged_not_applied():
    k, p = _prev()
    months = [PayMonth(Month(2026, m), 400_000, 30) for m in (4, 5, 6)]
    annual = [PayMonth(Month(2025, 7).plus(i), 400_000 if i >= 9 else 250_000, 30) for i in range(12)]
    r = teiji.teiji_kettei(year=2026, months=months, worker=WorkerType.ORDINARY, previous_kenpo=k,
                           previous_kounen=p, annual_months=annual)
    assert r.remuneration == 400_000 and any("年間平均" in f for f in r.flags)


@pytest.mark.parametrize(("current", "cur_rem", "avg", "direction", "kenpo", "kounen"), [
    # 厚年 31 → 32 needs an average ≥ 665,000
    ((34, 31), 620_000, 665_000, revision.Direction.UP, True, True),
    ((34, 31), 620_000, 664_000, revision.Direction.UP, False, False),  # 健保 34 → 35: one grade
    # 厚年 1 → 2 when the 報酬月額 behind grade 1 is < 83,000
    ((3, 1), 80_000, 95_000, revision.Direction.UP, True, True),
    ((4, 1), 85_000, 95_000, revision.Direction.UP, False, False),
    # 健保 2 → 1 with an average < 53,000; 厚年 stays 1
    ((2, 1), 65_000, 52_000, revision.Direction.DOWN, True, False),
    ((2, 1), 65_000, 54_000, revision.Direction.DOWN, False, False),
    # 健保 50 → 49 when the 報酬月額 behind 50 is ≥ 1,415,000
    ((50, 32), 1_500_000, 1_320_000, revision.Direction.DOWN, True, False),
    ((50, 32), 1_400_000, 1_320_000, revision.Direction.DOWN, False, False),
])
def test_table_edge_exceptions(current, cur_rem, avg, direction, kenpo, kounen):
    r = revision.zuiji_kaitei(first_paid=Month(2026, 4), direction=direction, worker=WorkerType.ORDINARY,
                              current_kenpo_grade=current[0], current_kounen_grade=current[1],
                              current_remuneration=cur_rem,
                              months=[PayMonth(Month(2026, 4 + i), avg, 30) for i in range(3)])
    assert r.kenpo and r.kenpo.revised is kenpo
    assert r.kounen and r.kounen.revised is kounen


def test_bottom_exception_threshold_is_a_setting():
    s = ShahoRuleSettings(kenpo_bottom_exception=63_000)
    r = revision.zuiji_kaitei(first_paid=Month(2026, 4), direction=revision.Direction.DOWN,
                              worker=WorkerType.ORDINARY, current_kenpo_grade=2, current_kounen_grade=1,
                              current_remuneration=65_000, settings=s,
                              months=[PayMonth(Month(2026, 4 + i), 54_000, 30) for i in range(3)])
    assert r.kenpo and r.kenpo.revised


def test_rates_data():
    assert len(rates.KYOKAI_RATES) == 47
    assert rates.kyokai_health_rates("41", Month(2025, 3)).general == Decimal("10.78")
    assert rates.kyokai_health_rates("41", Month(2026, 3)).general == Decimal("10.55")
    # R8: no prefecture went up; 7 unchanged, 40 down (DOMAIN-SHAHO.md §3.2 pattern check).
    r7 = {c: rates.kyokai_health_rates(c, Month(2026, 2)).general for c in rates.KYOKAI_RATES}
    r8 = {c: rates.kyokai_health_rates(c, Month(2026, 3)).general for c in rates.KYOKAI_RATES}
    assert sum(r8[c] == r7[c] for c in r7) == 7 and sum(r8[c] < r7[c] for c in r7) == 40
    assert len(rates.R7_SINGLE_SOURCE) == 20
    assert set(rates.R7_SINGLE_SOURCE) <= set(rates.PREFECTURE_NAMES.values()) | {
        n.rstrip("県府都") for n in rates.PREFECTURE_NAMES.values()}
    with pytest.raises(ValueError):
        rates.kyokai_health_rates("13", Month(2025, 2))  # before the recorded data
    with pytest.raises(ValueError):
        rates.kyokai_health_rates("48", Month(2026, 4))


def test_kumiai_rates_with_employer_bearing_more():
    k = (rates.KumiaiRates(Month(2026, 3), Decimal("9.00"), Decimal("4.00"), Decimal("1.80"), Decimal("0.80")),)
    r = rates.kumiai_health_rates(k, Month(2026, 4))
    p = premiums.monthly_premium(month=Month(2026, 4), kenpo_standard=300_000, kounen_standard=300_000,
                                 rates=r, birth_date=date(1980, 1, 10))
    # total 9.00 + 1.80 + 0.23 = 11.03 %; employee 4.00 + 0.80 + 0.115 = 4.915 % → 14,745
    assert p.health_total == Decimal("33090") and p.health_employee == 14_745


def test_office_totals_employer_share():
    r = rates.kyokai_health_rates("13", Month(2025, 9))
    items = [premiums.monthly_premium(month=Month(2025, 9), kenpo_standard=s, kounen_standard=s, rates=r,
                                      birth_date=date(1995, 3, 15)) for s in (410_000, 98_000)]
    t = premiums.office_totals(items)
    # 40,631.00 + 9,711.80 = 50,342.80 → 50,342; deductions 20,315 + 4,856
    assert t.health_total == 50_342 and t.health_employee == 25_171 and t.health_employer == 25_171
    assert t.kyoshutsukin == int(Decimal(508_000) * Decimal("0.0036"))


def test_deadlines_enum_covers_the_table():
    assert {p for p in Procedure} == set(deadlines.Procedure)


def test_age_reached_on_the_eve_of_the_birthday():
    from services.shakai_hoken.rules.age import age_on, reaching_date
    assert age_on(date(2004, 1, 1), date(2026, 12, 30)) == 22
    assert age_on(date(2004, 1, 1), date(2026, 12, 31)) == 23
    assert age_on(date(1986, 6, 1), date(2026, 5, 31)) == 40 and age_on(date(1986, 6, 1), date(2026, 5, 30)) == 39
    assert reaching_date(date(2004, 2, 29), 22) == date(2026, 2, 28)
