"""Every worked example of shared/DOMAIN-SHAHO.md §16 (W1–W16) against the pure rules.

The expected figures are the notes' own (computed there with Decimal and checked twice), not re-derived
from our code."""

from datetime import date
from decimal import Decimal

import pytest

from services.shakai_hoken.rules import bonus, deadlines, dependants, enrolment, leave, premiums, revision, teiji
from services.shakai_hoken.rules.grades import lookup, lookup_both
from services.shakai_hoken.rules.months import Month
from services.shakai_hoken.rules.premiums import Rounding, monthly_premium, round_employee
from services.shakai_hoken.rules.rates import kyokai_health_rates
from services.shakai_hoken.rules.tables import Scheme
from services.shakai_hoken.rules.teiji import PayMonth, WorkerType

ON = date(2026, 9, 1)
TOKYO = "13"
AGE45 = date(1981, 3, 15)  # 45 in 2026: 介護 applies
AGE30 = date(1995, 3, 15)  # no 介護


# W1 — grade lookup
@pytest.mark.parametrize(("pay", "kg", "pg", "ks", "ps"), [
    (312_000, 23, 20, 320_000, 320_000),
    (310_000, 23, 20, 320_000, 320_000),  # lower bound inclusive
    (309_999, 22, 19, 300_000, 300_000),
    (700_000, 37, 32, 710_000, 650_000),  # 厚年 capped
    (80_000, 3, 1, 78_000, 88_000),  # 厚年 floor
])
def test_w1_grade_lookup(pay, kg, pg, ks, ps):
    g = lookup_both(pay, ON)
    assert (g.kenpo.grade, g.kounen.grade, g.kenpo.standard, g.kounen.standard) == (kg, pg, ks, ps)


def test_w1_table_edges_and_sizes():
    assert lookup(Scheme.KENPO, 0, ON).grade == 1
    assert lookup(Scheme.KENPO, 1_354_999, ON).grade == 49
    assert lookup(Scheme.KENPO, 1_355_000, ON).standard == 1_390_000
    assert lookup(Scheme.KENPO, 10_000_000, ON).grade == 50
    assert lookup(Scheme.KOUNEN, 634_999, ON).grade == 31
    assert lookup(Scheme.KOUNEN, 635_000, ON).grade == 32
    # Between 88,000 and 650,000 the 厚年 grade is the 健保 grade − 3 (§1.1 item 3).
    for pay in range(83_000, 665_000, 1_000):
        assert lookup(Scheme.KOUNEN, pay, ON).grade == lookup(Scheme.KENPO, pay, ON).grade - 3
    # Before 2020-09 there was no 厚年 table recorded: refuse rather than guess.
    with pytest.raises(ValueError):
        lookup(Scheme.KOUNEN, 300_000, date(2020, 8, 1))


# W2 — 東京 R7, age 45, 320,000, premium month 2025-09
def test_w2_monthly_premium_tokyo_r7_age45():
    m = Month(2025, 9)
    p = monthly_premium(month=m, kenpo_standard=320_000, kounen_standard=320_000,
                        rates=kyokai_health_rates(TOKYO, m), birth_date=AGE45)
    assert p.kaigo and p.health_rate == Decimal("11.50")
    assert p.health_total == Decimal("36800") and p.health_employee == 18_400
    assert p.pension_total == Decimal("58560") and p.pension_employee == 29_280
    assert p.employee_total == 47_680
    assert premiums.deduction_month(m) == Month(2025, 10)  # 翌月徴収: deducted from October pay


# W3 — 50銭 rounding, 東京 R7, age 30
def test_w3_fifty_sen_rounding():
    m = Month(2025, 9)
    r = kyokai_health_rates(TOKYO, m)
    p = monthly_premium(month=m, kenpo_standard=410_000, kounen_standard=410_000, rates=r, birth_date=AGE30)
    assert not p.kaigo and p.health_total == Decimal("40631.00")
    assert p.health_employee == 20_315  # 20,315.50 deducted: .50 is dropped
    cash = monthly_premium(month=m, kenpo_standard=410_000, kounen_standard=410_000, rates=r,
                           birth_date=AGE30, mode=Rounding.CASH)
    assert cash.health_employee == 20_316
    for mode in Rounding:
        if mode is not Rounding.EMPLOYER_BEARS_FRACTION:
            small = monthly_premium(month=m, kenpo_standard=98_000, kounen_standard=98_000, rates=r,
                                    birth_date=AGE30, mode=mode)
            assert small.health_total == Decimal("9711.80") and small.health_employee == 4_856
    assert round_employee(Decimal("4855.90"), Rounding.EMPLOYER_BEARS_FRACTION) == 4_855


# W4 — R8 東京, age 45: 2026-03 without 支援金, 2026-04 with it
def test_w4_r8_and_shienkin_month_gap():
    mar, apr = Month(2026, 3), Month(2026, 4)
    p3 = monthly_premium(month=mar, kenpo_standard=320_000, kounen_standard=320_000,
                         rates=kyokai_health_rates(TOKYO, mar), birth_date=AGE45)
    assert p3.health_rate == Decimal("11.47") and p3.health_total == Decimal("36704")
    assert p3.health_employee == 18_352
    p4 = monthly_premium(month=apr, kenpo_standard=320_000, kounen_standard=320_000,
                         rates=kyokai_health_rates(TOKYO, apr), birth_date=AGE45)
    assert p4.health_rate == Decimal("11.70") and p4.health_total == Decimal("37440")
    assert p4.health_employee == 18_720
    assert p3.pension_employee == p4.pension_employee == 29_280
    # 2026-02 is still R7 (9.91 + 1.59).
    feb = monthly_premium(month=Month(2026, 2), kenpo_standard=320_000, kounen_standard=320_000,
                          rates=kyokai_health_rates(TOKYO, Month(2026, 2)), birth_date=AGE45)
    assert feb.health_employee == 18_400


# W5 — 定時決定 with a short month
def test_w5_teiji_drops_the_16_day_month():
    prev_k, prev_p = lookup(Scheme.KENPO, 300_000, ON), lookup(Scheme.KOUNEN, 300_000, ON)
    r = teiji.teiji_kettei(year=2026, worker=WorkerType.ORDINARY, previous_kenpo=prev_k,
                           previous_kounen=prev_p, months=[
                               PayMonth(Month(2026, 4), 310_000, 31),
                               PayMonth(Month(2026, 5), 250_000, 16),
                               PayMonth(Month(2026, 6), 320_000, 30)])
    assert r.used_months == (Month(2026, 4), Month(2026, 6))
    assert r.remuneration == 315_000
    assert (r.kenpo.grade, r.kounen.grade, r.kenpo.standard, r.kounen.standard) == (23, 20, 320_000, 320_000)
    assert (r.effective_from, r.effective_to) == (Month(2026, 9), Month(2027, 8))
    # Averaging all three months gives 293,333 → 300,000: the rule must not do that.
    assert r.kenpo.standard != 300_000


# W6 — 月変 that qualifies
def test_w6_zuiji_two_grades():
    r = revision.zuiji_kaitei(first_paid=Month(2026, 7), direction=revision.Direction.UP,
                              worker=WorkerType.ORDINARY, current_kenpo_grade=20, current_kounen_grade=17,
                              months=[PayMonth(Month(2026, 7), 300_000, 31),
                                      PayMonth(Month(2026, 8), 305_000, 31),
                                      PayMonth(Month(2026, 9), 298_000, 30)])
    assert r.candidate and r.average == 301_000 and r.effective_from == Month(2026, 10)
    assert r.kenpo and r.kenpo.revised and r.kenpo.new.grade == 22 and r.kenpo.gap == 2
    assert r.kounen and r.kounen.revised and r.kounen.new.grade == 19 and r.kounen.new.standard == 300_000


# W7 — 月変 that fails (1 grade)
def test_w7_zuiji_one_grade_is_not_enough():
    r = revision.zuiji_kaitei(first_paid=Month(2026, 9), direction=revision.Direction.UP,
                              worker=WorkerType.ORDINARY, current_kenpo_grade=22, current_kounen_grade=19,
                              months=[PayMonth(Month(2026, 9), 312_000, 30),
                                      PayMonth(Month(2026, 10), 318_000, 31),
                                      PayMonth(Month(2026, 11), 309_000, 30)])
    assert r.average == 313_000 and not r.candidate and r.effective_from is None
    assert r.kenpo and r.kenpo.new.grade == 23 and not r.kenpo.revised


# W8 — top exception (健保 only)
@pytest.mark.parametrize(("avg_pay", "kenpo_revised"), [(1_420_000, True), (1_400_000, False)])
def test_w8_top_exception(avg_pay, kenpo_revised):
    r = revision.zuiji_kaitei(first_paid=Month(2026, 4), direction=revision.Direction.UP,
                              worker=WorkerType.ORDINARY, current_kenpo_grade=49, current_kounen_grade=32,
                              current_remuneration=1_320_000,
                              months=[PayMonth(Month(2026, 4 + i), avg_pay, 30) for i in range(3)])
    assert r.kenpo and r.kenpo.new.grade == 50 and r.kenpo.revised is kenpo_revised
    assert r.kounen and not r.kounen.revised and r.kounen.new.grade == 32
    assert r.candidate is kenpo_revised


def test_zuiji_needs_17_days_in_every_month_and_agreeing_direction():
    months = [PayMonth(Month(2026, 7), 300_000, 31), PayMonth(Month(2026, 8), 305_000, 16),
              PayMonth(Month(2026, 9), 298_000, 30)]
    r = revision.zuiji_kaitei(first_paid=Month(2026, 7), direction=revision.Direction.UP,
                              worker=WorkerType.ORDINARY, current_kenpo_grade=20, current_kounen_grade=17,
                              months=months)
    assert not r.candidate  # no 15-day fallback in 随時改定
    # A pay cut whose average lands two grades higher is not a 随時改定 (§10.2).
    r = revision.zuiji_kaitei(first_paid=Month(2026, 7), direction=revision.Direction.DOWN,
                              worker=WorkerType.ORDINARY, current_kenpo_grade=20, current_kounen_grade=17,
                              months=[PayMonth(Month(2026, 7 + i), 301_000, 31) for i in range(3)])
    assert not r.candidate


# W9 — bonus over 150万, 東京 R8, age 45, paid 2026-07-10
def test_w9_bonus_over_the_pension_cap():
    b = bonus.bonus_bases(date(2026, 7, 10), [1_823_456], 0)
    assert (b.standard, b.kenpo, b.kounen) == (1_823_000, 1_823_000, 1_500_000)
    p = bonus.bonus_premium(b, rates=kyokai_health_rates(TOKYO, Month(2026, 7)), birth_date=AGE45)
    assert p.pension_total == Decimal("274500") and p.pension_employee == 137_250
    assert p.health_total == Decimal("213291.00") and p.health_employee == 106_645
    # Halves ending in .5: 523,000 under 東京 R7, no 介護.
    b2 = bonus.bonus_bases(date(2025, 12, 10), [523_000], 0)
    p2 = bonus.bonus_premium(b2, rates=kyokai_health_rates(TOKYO, Month(2025, 12)), birth_date=AGE30)
    assert p2.health_total == Decimal("51829.30") and p2.health_employee == 25_915
    assert p2.pension_total == Decimal("95709.00") and p2.pension_employee == 47_854


# W10 — 健保 annual cap crossing (FY2026)
def test_w10_fiscal_year_cap():
    s = bonus.bonus_series([(date(2026, 6, 25), 2_600_000), (date(2026, 12, 10), 2_700_000),
                            (date(2027, 3, 15), 900_000), (date(2027, 4, 20), 800_000)])
    assert [(b.kenpo, b.kounen, b.kenpo_cumulative) for b in s] == [
        (2_600_000, 1_500_000, 2_600_000), (2_700_000, 1_500_000, 5_300_000),
        (430_000, 900_000, 5_730_000), (800_000, 800_000, 800_000)]  # FY2027 starts from 0
    later = bonus.bonus_bases(date(2027, 3, 30), [100_000], 5_730_000)
    assert later.kenpo == 0 and later.kounen == 100_000


# W11 — 取得 / 喪失 dates and deadlines
def test_w11_acquisition_and_loss():
    d = deadlines.deadline(deadlines.Procedure.SHUTOKU, date(2026, 4, 1))
    assert d.due == date(2026, 4, 6) and d.due.weekday() == 0
    loss = enrolment.loss_date_on_leaving(date(2026, 6, 30))
    assert loss == date(2026, 7, 1)
    assert deadlines.deadline(deadlines.Procedure.SOSHITSU, loss).due == date(2026, 7, 6)
    assert premiums.premium_months(date(2026, 4, 1), loss) == [Month(2026, m) for m in (4, 5, 6)]
    loss2 = enrolment.loss_date_on_leaving(date(2026, 6, 29))
    assert premiums.premium_months(date(2026, 4, 1), loss2)[-1] == Month(2026, 5)
    rehire = enrolment.same_day_rehire(date(1964, 1, 10), date(2026, 3, 31), date(2026, 4, 1))
    assert rehire.loss_date == rehire.acquisition_date == date(2026, 4, 1)
    assert rehire.new_standard_from == Month(2026, 4)
    with pytest.raises(ValueError):
        enrolment.same_day_rehire(date(1970, 1, 10), date(2026, 3, 31), date(2026, 4, 1))  # 56


def test_w11_same_month_in_and_out_owes_one_month():
    assert premiums.premium_months(date(2026, 4, 3), date(2026, 4, 21)) == [Month(2026, 4)]


# W12 — age events
def test_w12_age_events():
    born = date(1986, 6, 1)
    assert not premiums.kaigo_applies(born, Month(2026, 4))
    assert premiums.kaigo_applies(born, Month(2026, 5))  # 40歳到達日 2026-05-31
    old = date(1956, 11, 15)
    assert enrolment.kounen_loss_date_at_70(old) == date(2026, 11, 14)
    assert premiums.kounen_applies(old, Month(2026, 10)) and not premiums.kounen_applies(old, Month(2026, 11))
    assert premiums.kenpo_applies(old, Month(2026, 11))
    p = monthly_premium(month=Month(2026, 11), kenpo_standard=300_000, kounen_standard=300_000,
                        rates=kyokai_health_rates(TOKYO, Month(2026, 11)), birth_date=old)
    assert p.pension_employee == 0 and p.health_employee > 0
    # 75: 健保 lost on the birthday itself.
    assert enrolment.kenpo_loss_date_at_75(date(1951, 11, 15)) == date(2026, 11, 15)
    assert not premiums.kenpo_applies(date(1951, 11, 15), Month(2026, 11))


# W13 — 産休
def test_w13_sanzen_sango():
    e = leave.sanzen_sango(date(2026, 5, 8), date(2026, 8, 13))
    assert e.months == (Month(2026, 5), Month(2026, 6), Month(2026, 7))
    assert e.bonus_exempt(date(2026, 6, 30)) and not e.month_exempt(Month(2026, 8))


# W14 — 育休
def test_w14_ikuji():
    a = leave.ikuji(date(2026, 11, 5), date(2026, 11, 19))
    assert a.months == (Month(2026, 11),)  # 15 days in the month ≥ 14
    assert not a.bonus_exempt(date(2026, 11, 30))  # leave not longer than one month
    b = leave.ikuji(date(2026, 6, 10), date(2026, 7, 10))
    assert b.months == (Month(2026, 6),) and b.bonus_exempt(date(2026, 6, 30))
    assert not b.month_exempt(Month(2026, 7))
    # Exactly one month (12/15–1/14) is not enough for a bonus; 12/15–1/15 is.
    assert not leave.ikuji(date(2026, 12, 15), date(2027, 1, 14)).bonus_exempt_long_enough
    assert leave.ikuji(date(2026, 12, 15), date(2027, 1, 15)).bonus_exempt_long_enough
    # 13 days in one month: not exempt.
    assert leave.ikuji(date(2026, 11, 5), date(2026, 11, 17)).months == ()


# W15 — 育児休業等終了時改定
def test_w15_leave_end_revision():
    months = [PayMonth(Month(2026, 4), 268_000, 30), PayMonth(Month(2026, 5), 270_000, 31),
              PayMonth(Month(2026, 6), 272_000, 30)]
    r = revision.leave_end_revision(leave_end=date(2026, 3, 31), months=months, worker=WorkerType.ORDINARY,
                                    current_kenpo_grade=25, current_kounen_grade=22)
    assert r.average == 270_000 and r.candidate and r.effective_from == Month(2026, 7)
    assert r.kenpo and r.kenpo.new.grade == 21 and r.kenpo.new.standard == 280_000
    assert r.kounen and r.kounen.new.grade == 18
    v = revision.leave_end_revision(leave_end=date(2026, 3, 31), worker=WorkerType.ORDINARY,
                                    current_kenpo_grade=22, current_kounen_grade=19,
                                    months=[PayMonth(Month(2026, 4 + i), 287_000, 30) for i in range(3)])
    assert v.candidate and v.kenpo and v.kenpo.new.grade == 21  # one grade is enough here
    z = revision.zuiji_kaitei(first_paid=Month(2026, 4), direction=revision.Direction.DOWN,
                              worker=WorkerType.ORDINARY, current_kenpo_grade=22, current_kounen_grade=19,
                              months=[PayMonth(Month(2026, 4 + i), 287_000, 30) for i in range(3)])
    assert not z.candidate  # …where ordinary 随時改定 refuses it


# W16 — dependants (認定 in 2026)
def test_w16_dependants():
    on = date(2026, 6, 1)
    spouse = dependants.judge(birth_date=date(1981, 1, 1), recognised_on=on, annual_income=1_290_000,
                              insured_income=4_000_000, living_together=True, spouse=True)
    assert spouse.ok and spouse.limit == 1_300_000
    child = dependants.judge(birth_date=date(2006, 8, 1), recognised_on=on, annual_income=1_450_000,
                             insured_income=4_000_000, living_together=True, spouse=False)
    assert child.ok and child.limit == 1_500_000
    father = dependants.judge(birth_date=date(1964, 2, 1), recognised_on=on, annual_income=1_750_000,
                              insured_income=4_000_000, living_together=True, spouse=False)
    assert father.ok and father.limit == 1_800_000
    # The same child before the 2025-10-01 band: 130万.
    assert dependants.income_limit(date(2005, 8, 1), date(2025, 9, 30), spouse=False) == 1_300_000
    # A spouse of 20 does not get the 150万 band.
    assert dependants.income_limit(date(2006, 8, 1), on, spouse=True) == 1_300_000
    # Born 1 January: 23 on 12/31 of the year before the birthday → 130万 already.
    assert dependants.income_limit(date(2004, 1, 1), on, spouse=False) == 1_300_000
