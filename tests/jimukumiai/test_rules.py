"""The pure rules of the 事務組合 against every worked example of shared/DOMAIN.md B6–B9, exact to
the yen and the day, and the boundaries around them."""

from datetime import date
from decimal import Decimal

import pytest

from services.jimukumiai.rules import ennou, hoshokin, nendo_koshin, size_limits, tokubetsu_kanyu
from services.jimukumiai.rules.money import floor_thousands, per_mille
from services.jimukumiai.rules.nendo_koshin import BaseSource, ExcessUse, RenewalError, RenewalInput, renew
from services.jimukumiai.rules.rates import (
    KOYO_RATES,
    KoyoKubun,
    RateNotFound,
    general_contribution_rate,
    koyo_rate,
    rousai_codes,
    rousai_type,
)
from services.jimukumiai.rules.size_limits import MainBusiness
from services.jimukumiai.rules.tokubetsu_kanyu import SpecialEnrolment

# ---------------------------------------------------------------- rates (A5, B6)


@pytest.mark.parametrize(("fy", "kubun", "worker", "employer", "total"), [
    (2023, KoyoKubun.IPPAN, "6", "9.5", "15.5"), (2023, KoyoKubun.NORIN_SHUZO, "7", "10.5", "17.5"),
    (2023, KoyoKubun.KENSETSU, "7", "11.5", "18.5"),
    (2024, KoyoKubun.IPPAN, "6", "9.5", "15.5"), (2024, KoyoKubun.NORIN_SHUZO, "7", "10.5", "17.5"),
    (2024, KoyoKubun.KENSETSU, "7", "11.5", "18.5"),
    (2025, KoyoKubun.IPPAN, "5.5", "9", "14.5"), (2025, KoyoKubun.NORIN_SHUZO, "6.5", "10", "16.5"),
    (2025, KoyoKubun.KENSETSU, "6.5", "11", "17.5"),
    (2026, KoyoKubun.IPPAN, "5", "8.5", "13.5"), (2026, KoyoKubun.NORIN_SHUZO, "6", "9.5", "15.5"),
    (2026, KoyoKubun.KENSETSU, "6", "10.5", "16.5"),
])
def test_koyo_rates_fy2023_to_fy2026(fy, kubun, worker, employer, total):
    for day in (date(fy, 4, 1), date(fy + 1, 3, 31)):
        r = koyo_rate(kubun, day)
        assert (r.worker, r.employer, r.total) == (Decimal(worker), Decimal(employer), Decimal(total))


def test_rates_are_dated_data_without_a_guess_before_the_first_row():
    assert [row.effective_from for row in KOYO_RATES] == [date(2023, 4, 1), date(2024, 4, 1), date(2025, 4, 1),
                                                           date(2026, 4, 1)]
    with pytest.raises(RateNotFound):
        koyo_rate(KoyoKubun.IPPAN, date(2023, 3, 31))
    with pytest.raises(RateNotFound):  # the 令和5 労災 table is not tabled: refused, not guessed
        rousai_type("94", date(2024, 3, 31))
    with pytest.raises(RateNotFound):
        rousai_type("65", date(2025, 4, 1))  # たばこ等製造業 is gone from the R6 table


def test_rousai_table_r6():
    table = rousai_codes(date(2024, 4, 1))
    # 53 事業の種類 of 別表第一 + 船舶所有者 (則16条); 林業 answers to both 02 and 03.
    assert len(table) == 55 and len({t.name for t in table.values()}) == 54
    expected = {"02": "52", "03": "52", "11": "18", "21": "88", "24": "2.5", "35": "9.5", "37": "15", "49": "23",
                "59": "23", "60": "2.5", "72": "8.5", "90": "42", "94": "3", "96": "6.5", "98": "3", "99": "2.5"}
    for code, rate in expected.items():
        assert rousai_type(code, date(2025, 6, 1)).rate == Decimal(rate), code


def test_general_contribution_rate():
    assert general_contribution_rate(date(2024, 4, 1)) == Decimal("0.02")
    assert per_mille(12_345_000, Decimal("0.02")) == 246  # 246.9 → 246


# ---------------------------------------------------------------- 年度更新 (B7)

B7 = RenewalInput(fiscal_year=2025, rousai_code="94", koyo_kubun=KoyoKubun.IPPAN, rousai_wages=12_345_678,
                  koyo_wages=11_800_500, paid_estimate=200_000, entrusted=False)


def test_b7_worked_example_individually_insured():
    r = renew(B7)
    assert floor_thousands(12_345_678) == 12_345_000
    c = r.confirmed
    assert c is not None
    assert (c.rousai_base, c.koyo_base) == (12_345_000, 11_800_000)
    assert (c.rousai_premium, c.koyo_premium, c.total) == (37_035, 182_900, 219_935)
    assert not c.combined
    assert r.general_contribution == 246
    assert r.settlement.shortage == 19_935 and r.settlement.excess == 0
    e = r.estimate
    assert (e.rousai_premium, e.koyo_premium, e.total) == (37_035, 171_100, 208_135)
    assert e.rousai_base_source is BaseSource.CONFIRMED
    # 208,135 < 400,000 and not entrusted: no 延納, one payment by Thursday 2025-07-10.
    assert not r.plan.allowed
    [only] = r.plan.installments
    assert only.amount_due == 228_316 and only.due_on == date(2025, 7, 10)
    assert r.filing_deadline == date(2025, 7, 10)
    assert r.refund_claim is None


def test_b8_worked_example_entrusted_installments():
    r = renew(RenewalInput(**{**B7.__dict__, "entrusted": True}))
    assert r.plan.allowed
    amounts = [i.amount_due for i in r.plan.installments]
    shares = [i.premium for i in r.plan.installments]
    assert shares == [69_379, 69_378, 69_378]
    assert amounts == [89_560, 69_378, 69_378]  # 69,379 + 19,935 + 246
    assert [i.due_on for i in r.plan.installments] == [date(2025, 7, 10), date(2025, 11, 14), date(2026, 2, 16)]
    assert [i.raw_due_on for i in r.plan.installments] == [date(2025, 7, 10), date(2025, 11, 14), date(2026, 2, 14)]
    assert r.plan.total_due == 208_135 + 19_935 + 246


def test_split_remainder_to_the_first():
    assert ennou.split(1_000_001, 3) == [333_335, 333_333, 333_333]
    assert ennou.split(1_000_000, 3) == [333_334, 333_333, 333_333]
    assert ennou.split(208_135, 3) == [69_379, 69_378, 69_378]
    assert ennou.split(2, 3) == [2, 0, 0]


def test_ennou_thresholds():
    assert not ennou.allowed(399_999, both_insurances=True, entrusted=False)
    assert ennou.allowed(400_000, both_insurances=True, entrusted=False)
    assert not ennou.allowed(199_999, both_insurances=False, entrusted=False)
    assert ennou.allowed(200_000, both_insurances=False, entrusted=False)
    assert ennou.allowed(1, both_insurances=True, entrusted=True)


def test_normal_due_dates_and_the_fixed_date_setting():
    p = ennou.plan(2026, 900_000, both_insurances=True, entrusted=False)
    # 2026-10-31 is a Saturday, 2027-01-31 a Sunday (appendix §6).
    assert [i.due_on for i in p.installments] == [date(2026, 7, 10), date(2026, 11, 2), date(2027, 2, 1)]
    p = ennou.plan(2026, 900_000, both_insurances=True, entrusted=True)
    assert [i.due_on for i in p.installments] == [date(2026, 7, 10), date(2026, 11, 16), date(2027, 2, 15)]
    p = ennou.plan(2026, 900_000, both_insurances=True, entrusted=True, shift_fixed_dates=False)
    assert [i.due_on for i in p.installments] == [date(2026, 7, 10), date(2026, 11, 14), date(2027, 2, 14)]
    # 7/10 ends a statutory period and moves by law whatever the setting: 2027-07-10 is a Saturday.
    p = ennou.plan(2027, 900_000, both_insurances=True, entrusted=True, shift_fixed_dates=False)
    assert p.installments[0].due_on == date(2027, 7, 12)
    assert nendo_koshin.filing_deadline(2027) == date(2027, 7, 12)
    # 口座振替: 9/6, 11/14, 2/14 (2026-09-06 is a Sunday).
    p = ennou.plan(2026, 900_000, both_insurances=True, entrusted=False, account_transfer=True)
    assert [i.raw_due_on for i in p.installments] == [date(2026, 9, 6), date(2026, 11, 14), date(2027, 2, 14)]
    assert p.installments[0].due_on == date(2026, 9, 7)


def test_installments_can_be_declined():
    p = ennou.plan(2025, 208_135, both_insurances=True, entrusted=True, requested=False, shortage=5)
    [only] = p.installments
    assert only.amount_due == 208_140 and only.covers_to == date(2026, 3, 31)


def test_business_established_in_june_pays_in_two():
    # Established (保険関係成立) 2025-06-16, entrusted: 成立 to 11/30 due 50 days after 成立, then 2/14.
    r = renew(RenewalInput(fiscal_year=2025, rousai_code="94", koyo_kubun=KoyoKubun.IPPAN,
                           established_on=date(2025, 6, 16), estimated_rousai_wages=6_000_500,
                           estimated_koyo_wages=5_000_999))
    assert r.confirmed is None and r.general_contribution == 0
    e = r.estimate
    assert (e.rousai_base, e.koyo_base) == (6_000_000, 5_000_000)
    assert (e.rousai_premium, e.koyo_premium, e.total) == (18_000, 72_500, 90_500)
    ins = r.plan.installments
    assert [(i.covers_from, i.covers_to) for i in ins] == [(date(2025, 6, 16), date(2025, 11, 30)),
                                                           (date(2025, 12, 1), date(2026, 3, 31))]
    assert [i.amount_due for i in ins] == [45_250, 45_250]
    assert [i.due_on for i in ins] == [date(2025, 8, 5), date(2026, 2, 16)]
    assert r.filing_deadline == date(2025, 8, 5)


@pytest.mark.parametrize(("established", "n", "first_due"), [
    (date(2025, 4, 1), 3, date(2025, 5, 21)), (date(2025, 5, 31), 3, date(2025, 7, 22)),  # 7/20 Sun, 7/21 海の日
    (date(2025, 6, 1), 2, date(2025, 7, 22)), (date(2025, 9, 30), 2, date(2025, 11, 19)),
    (date(2025, 10, 1), 1, date(2025, 11, 20)), (date(2026, 3, 31), 1, date(2026, 5, 20)),
])
def test_mid_year_periods(established, n, first_due):
    p = ennou.plan(2025, 90_001, both_insurances=True, entrusted=True, established_on=established)
    assert len(p.installments) == n and p.installments[0].due_on == first_due
    assert p.installments[0].covers_from == established


def test_excess_applied_to_the_estimate_first_installment_first():
    # 確定 219,935 against a paid 概算 of 300,000: 超過額 80,065, 充当 to the 概算 (69,379 then 10,686).
    r = renew(RenewalInput(**{**B7.__dict__, "entrusted": True, "paid_estimate": 300_000}))
    s = r.settlement
    assert (s.shortage, s.excess, s.applied_to_premium, s.applied_to_general_contribution, s.refund) == \
        (0, 80_065, 80_065, 0, 0)
    ins = r.plan.installments
    assert [i.appropriated for i in ins] == [69_379, 10_686, 0]
    # The 一般拠出金 is still paid in full with the first payment.
    assert [i.amount_due for i in ins] == [246, 58_692, 69_378]
    assert r.refund_claim is None


def test_excess_applied_to_both_the_estimate_and_the_general_contribution():
    r = renew(RenewalInput(**{**B7.__dict__, "paid_estimate": 428_200, "excess_use": ExcessUse.BOTH}))
    s = r.settlement
    # 超過額 208,265 = the whole 概算 208,135 + 130 of the 一般拠出金 (246).
    assert (s.excess, s.applied_to_premium, s.applied_to_general_contribution, s.refund) == (208_265, 208_135, 130, 0)
    assert r.general_contribution_due == 116
    [only] = r.plan.installments
    assert only.amount_due == 116


def test_excess_refunded_with_claim_data():
    r = renew(RenewalInput(**{**B7.__dict__, "entrusted": True, "paid_estimate": 300_000,
                              "excess_use": ExcessUse.REFUND}))
    s = r.settlement
    assert (s.excess, s.applied_to_premium, s.refund) == (80_065, 0, 80_065)
    claim = r.refund_claim
    assert claim is not None
    assert (claim.fiscal_year, claim.amount, claim.premium_refund, claim.file_by) == (2024, 80_065, 80_065,
                                                                                     date(2025, 7, 10))
    assert [i.amount_due for i in r.plan.installments] == [69_379 + 246, 69_378, 69_378]


def test_excess_beyond_what_the_chosen_appropriation_absorbs_is_refunded():
    r = renew(RenewalInput(**{**B7.__dict__, "paid_estimate": 500_000, "excess_use": ExcessUse.GENERAL_CONTRIBUTION}))
    s = r.settlement
    assert (s.excess, s.applied_to_general_contribution, s.refund) == (280_065, 246, 279_819)
    assert r.refund_claim is not None and r.refund_claim.amount == 279_819 and r.notes


def test_estimate_above_200_percent_is_used():
    r = renew(RenewalInput(**{**B7.__dict__, "estimated_rousai_wages": 24_690_001, "estimated_koyo_wages": 23_600_000}))
    e = r.estimate
    # 24,690,001 → 24,690,000, exactly 200 % of 12,345,000: not above, last year's base stays;
    # 23,600,000 is exactly 200 % of 11,800,000: stays too.
    assert (e.rousai_base_source, e.koyo_base_source) == (BaseSource.CONFIRMED, BaseSource.CONFIRMED)
    r = renew(RenewalInput(**{**B7.__dict__, "estimated_rousai_wages": 24_691_000, "estimated_koyo_wages": 23_601_999}))
    e = r.estimate
    assert (e.rousai_base, e.koyo_base) == (24_691_000, 23_601_000)
    assert (e.rousai_base_source, e.koyo_base_source) == (BaseSource.ESTIMATE, BaseSource.ESTIMATE)
    assert (e.rousai_premium, e.koyo_premium, e.total) == (74_073, 342_214, 416_287)
    # Below 50 % too (6,172,500 is 50 %; the estimate is compared rounded down to thousands).
    r = renew(RenewalInput(**{**B7.__dict__, "estimated_rousai_wages": 6_172_999}))
    assert r.estimate.rousai_base == 6_172_000 and r.estimate.rousai_base_source is BaseSource.ESTIMATE
    r = renew(RenewalInput(**{**B7.__dict__, "estimated_rousai_wages": 6_173_000}))
    assert r.estimate.rousai_base == 12_345_000


def test_same_base_is_one_line_rounded_once():
    r = renew(RenewalInput(fiscal_year=2025, rousai_code="94", koyo_kubun=KoyoKubun.IPPAN, rousai_wages=1_333_999,
                           koyo_wages=1_333_000, paid_estimate=0))
    c = r.confirmed
    assert c is not None and c.combined
    # 1,333,000 × 18.5/1000 = 24,660.5 → 24,660 (separately: 3,999 + 20,661 = 24,660 too)
    assert c.total == 24_660 and c.rousai_premium == 3_999


def test_one_insurance_only():
    r = renew(RenewalInput(fiscal_year=2025, rousai_code=None, koyo_kubun=KoyoKubun.KENSETSU, koyo_wages=10_000_000,
                           paid_estimate=185_000, entrusted=False))
    assert r.general_contribution == 0  # no 一般拠出金 without 労災
    assert r.confirmed is not None and r.confirmed.total == 185_000 and r.estimate.total == 175_000
    assert not r.plan.allowed  # one insurance: 200,000 needed
    with pytest.raises(RenewalError):
        RenewalInput(fiscal_year=2025, rousai_code=None, koyo_kubun=None)
    with pytest.raises(RenewalError):
        renew(RenewalInput(fiscal_year=2025, rousai_code="94", koyo_kubun=None, established_on=date(2025, 6, 1)))


def test_increase_estimate():
    # The 概算 used 12,345,000 / 11,800,000 (208,135 filed at R7 rates); wages now expected at 30 M / 29 M.
    inc = nendo_koshin.increase_estimate(2025, "94", KoyoKubun.IPPAN, used_rousai_base=12_345_000,
                                         used_koyo_base=11_800_000, filed_estimate=208_135,
                                         new_rousai_wages=30_000_000, new_koyo_wages=29_000_000,
                                         expected_on=date(2025, 9, 1))
    assert inc.ratio_exceeded and inc.due
    assert inc.new_estimate.total == 90_000 + 420_500 and inc.increase == 302_365
    assert inc.deadline == date(2025, 10, 1)  # 30 days from 9/2
    # Above 200 % but an increase below 130,000: not due.
    small = nendo_koshin.increase_estimate(2025, "94", KoyoKubun.IPPAN, used_rousai_base=1_000_000,
                                           used_koyo_base=1_000_000, filed_estimate=17_500,
                                           new_rousai_wages=2_001_000, new_koyo_wages=2_001_000,
                                           expected_on=date(2025, 9, 1))
    assert small.ratio_exceeded and not small.due and small.deadline is None
    # An increase of 130,000 or more but not above 200 %: not due.
    big = nendo_koshin.increase_estimate(2025, "94", KoyoKubun.IPPAN, used_rousai_base=20_000_000,
                                         used_koyo_base=20_000_000, filed_estimate=350_000,
                                         new_rousai_wages=40_000_000, new_koyo_wages=40_000_000,
                                         expected_on=date(2025, 9, 1))
    assert big.increase >= 130_000 and not big.ratio_exceeded and not big.due


# ---------------------------------------------------------------- 特別加入 (B9)


def test_special_enrolment_worked_examples():
    assert tokubetsu_kanyu.annual_base(10_000) == 3_650_000
    whole = SpecialEnrolment(10_000)
    assert tokubetsu_kanyu.total_base([whole], 2025) == 3_650_000
    assert tokubetsu_kanyu.premium([whole], 2025, Decimal(3)) == 10_950
    # Joining for 7 months: 304,167 × 7 = 2,129,169 → 2,129,000 → 6,387.
    seven = SpecialEnrolment(10_000, joined_on=date(2025, 9, 20))
    assert tokubetsu_kanyu.months_covered(seven, 2025) == 7
    assert tokubetsu_kanyu.member_base(seven, 2025) == 2_129_169
    assert tokubetsu_kanyu.total_base([seven], 2025) == 2_129_000
    assert tokubetsu_kanyu.premium([seven], 2025, Decimal(3)) == 6_387
    # The 3,500 level at the old 建設一人親方 rate (18/1000): 22,995 (oyakata.jp).
    assert per_mille(tokubetsu_kanyu.annual_base(3_500), Decimal(18)) == 22_995


def test_special_enrolment_months():
    y = 2025
    # Leaving on 2025-10-01 (脱退日): the month of the day before (September) is the last one: Apr–Sep = 6.
    assert tokubetsu_kanyu.months_covered(SpecialEnrolment(10_000, left_on=date(2025, 10, 1)), y) == 6
    assert tokubetsu_kanyu.months_covered(SpecialEnrolment(10_000, left_on=date(2025, 10, 2)), y) == 7
    assert tokubetsu_kanyu.months_covered(SpecialEnrolment(10_000, date(2025, 4, 30), date(2025, 5, 2)), y) == 2
    assert tokubetsu_kanyu.months_covered(SpecialEnrolment(10_000, date(2026, 4, 1)), y) == 0
    assert tokubetsu_kanyu.months_covered(SpecialEnrolment(10_000, left_on=date(2025, 4, 1)), y) == 0
    with pytest.raises(tokubetsu_kanyu.InvalidDailyAmount):
        tokubetsu_kanyu.check_daily_amount(11_000, date(2025, 4, 1))
    tokubetsu_kanyu.check_daily_amount(25_000, date(2025, 4, 1))


def test_special_enrolment_is_in_the_members_premium():
    special = (SpecialEnrolment(10_000), SpecialEnrolment(10_000, joined_on=date(2025, 9, 20)))
    r = renew(RenewalInput(**{**B7.__dict__, "special": special}))
    c, e = r.confirmed, r.estimate
    assert c is not None
    assert (c.special_base, c.special_premium) == (3_650_000, 10_950)  # one member in FY2024
    # FY2025: 3,650,000 + 2,129,169 = 5,779,169 → 5,779,000 × 3/1000 = 17,337
    assert (e.special_base, e.special_premium) == (5_779_000, 17_337)
    assert c.total == 219_935 + 10_950 and e.total == 208_135 + 17_337
    assert r.general_contribution == 246  # not on the special base


# ---------------------------------------------------------------- size limit, 報奨金 (B9)


@pytest.mark.parametrize(("business", "workers", "ok"), [
    (MainBusiness.RETAIL, 50, True), (MainBusiness.RETAIL, 51, False), (MainBusiness.FINANCE, 51, False),
    (MainBusiness.INSURANCE, 51, False), (MainBusiness.REAL_ESTATE, 51, False),
    (MainBusiness.WHOLESALE, 100, True), (MainBusiness.WHOLESALE, 101, False),
    (MainBusiness.SERVICE, 100, True), (MainBusiness.SERVICE, 101, False),
    (MainBusiness.OTHER, 300, True), (MainBusiness.OTHER, 301, False),
])
def test_size_limits(business, workers, ok):
    assert size_limits.check(workers, business, date(2026, 4, 1)).allowed is ok


def test_reward_estimate():
    M = hoshokin.MemberCollection
    members = [M(3, True, 100_000, 100_000), M(4, False, 50_000, 50_000), M(10, True, 200_000, 190_000),
               M(15, False, 80_000, 80_000), M(16, True, 1_000_000, 0)]  # 16 workers: not counted
    e = hoshokin.estimate(2025, members)
    assert e.counted_members == 4 and (e.confirmed_due, e.paid) == (430_000, 420_000)
    assert e.qualifies and e.collection_rate == Decimal("0.9767")
    assert e.premium_part == 8_400  # 2 % of 420,000
    assert e.per_business_part == 12_400 + 6_200 + 6_200 + 3_100
    assert e.amount == 8_400 + 27_900 and not e.capped
    assert e.application_deadline == date(2025, 10, 15)
    # Below 95 %: nothing.
    e = hoshokin.estimate(2025, [M(3, True, 100_000, 94_999)])
    assert not e.qualifies and e.amount == 0
    assert hoshokin.estimate(2025, [M(3, True, 100_000, 95_000)]).qualifies
    # The cap: 10,000,000.
    e = hoshokin.estimate(2025, [M(3, True, 600_000_000, 600_000_000)])
    assert e.capped and e.amount == 10_000_000
    # 2026-10-15 is a Thursday; 2027-10-15 a Friday; 2028-10-15 a Sunday.
    assert hoshokin.estimate(2028, members).application_deadline == date(2028, 10, 16)
