"""DOMAIN.md A1 worked examples and the 2028-10-01 threshold change, as pure rules."""

from datetime import date
from decimal import Decimal

import pytest

from services.koyo_hoken.rules.age import age_on
from services.koyo_hoken.rules.eligibility import Facts, OtherJob, Student, decide, ruleset_on


def facts(on=date(2025, 6, 1), hours="40", birth=date(1990, 4, 1), **over):
    base = dict(on=on, birth_date=birth, weekly_hours=Decimal(hours), employment_start=on)
    return Facts(**{**base, **over})


def test_worker_a_18h_not_insured_today_insured_from_2028_10_01():
    # A: 18 h/week, 6-month contract, 2025-06.
    a = facts(on=date(2025, 6, 1), hours="18", contract_end=date(2025, 11, 30))
    d = decide(a)
    assert not d.insured and d.reason_code == "under_weekly_hours"
    assert d.rule_version == "koyo-eligibility/2022-01-01" and d.weekly_hours_min == 20
    assert any("2028-10-01" in n for n in d.notes)
    later = facts(on=date(2028, 10, 1), hours="18", employment_start=date(2028, 10, 1),
                  contract_end=date(2029, 3, 31))
    d2 = decide(later)
    assert d2.insured and d2.category == "一般被保険者"
    assert d2.rule_version == "koyo-eligibility/2028-10-01" and d2.weekly_hours_min == 10


def test_15h_worker_flips_exactly_on_2028_10_01():
    before = decide(facts(on=date(2028, 9, 30), hours="15"))
    on = decide(facts(on=date(2028, 10, 1), hours="15"))
    assert not before.insured and before.reason_code == "under_weekly_hours"
    assert on.insured and on.reason_code == "insured"
    assert ruleset_on(date(2028, 9, 30)).weekly_hours_min == 20
    assert ruleset_on(date(2028, 10, 1)).weekly_hours_min == 10


def test_worker_b_66_two_jobs_may_apply_as_multi_job_holder():
    # B: 66 years old; 12 h at shop X and 9 h at shop Y.
    b = facts(on=date(2025, 6, 1), hours="12", birth=date(1959, 1, 10), other_jobs=[OtherJob(Decimal(9))])
    d = decide(b)
    assert not d.insured and d.reason_code == "under_weekly_hours" and d.age == 66
    assert d.multi_job is not None and d.multi_job.may_apply
    assert d.multi_job.hours_other == 9
    assert "本人がハローワークに申し出" in d.multi_job.explanation
    assert "事業主は本人の依頼により証明" in d.multi_job.explanation


@pytest.mark.parametrize(("birth", "others", "ok"), [
    (date(1959, 1, 10), [OtherJob(Decimal(4))], False),          # 12 + 4, and 4 h is under 5 h
    (date(1959, 1, 10), [OtherJob(Decimal(7))], False),          # 12 + 7 = 19 h
    (date(1970, 1, 10), [OtherJob(Decimal(9))], False),          # 55 years old
    (date(1959, 1, 10), [OtherJob(Decimal(9), expects_31_days=False)], False),
    (date(1959, 1, 10), [OtherJob(Decimal(3)), OtherJob(Decimal(8))], True),  # three jobs: picks two
])
def test_multi_job_conditions(birth, others, ok):
    d = decide(facts(hours="12", birth=birth, other_jobs=others))
    assert not d.insured
    assert (d.multi_job is not None and d.multi_job.may_apply) is ok


def test_worker_c_daytime_student_not_insured_unless_an_exception():
    c = decide(facts(hours="25", student=Student.DAYTIME))
    assert not c.insured and c.reason_code == "daytime_student"
    for exception in (Student.NIGHT_PART_TIME_CORRESPONDENCE, Student.ON_LEAVE, Student.GRADUATING,
                      Student.GRADUATE_SCHOOL_BY_EMPLOYER, Student.NO_ATTENDANCE_REQUIRED):
        d = decide(facts(hours="25", student=exception))
        assert d.insured, exception
        assert any("例外" in n for n in d.notes)
    # An exception still needs the hours test.
    assert not decide(facts(hours="15", student=Student.ON_LEAVE)).insured


def test_31_day_test():
    short = facts(contract_end=date(2025, 6, 30))  # 30 days, no renewal
    assert decide(short).reason_code == "under_31_days"
    assert decide(facts(contract_end=date(2025, 7, 1))).insured  # 31 days
    assert decide(facts(contract_end=date(2025, 6, 30), renewal_clause=True)).insured
    assert decide(facts(contract_end=date(2025, 6, 30), renewal_practice=True)).insured


def test_65_and_over_is_koureisha_from_the_day_before_the_birthday():
    birth = date(1960, 6, 2)
    assert decide(facts(on=date(2025, 5, 31), birth=birth)).category == "一般被保険者"
    d = decide(facts(on=date(2025, 6, 1), birth=birth))  # 65歳に達した日 = 誕生日の前日
    assert d.category == "高年齢被保険者" and d.reason_code == "insured_high_age"


def test_age_on_leap_day_birthday():
    assert age_on(date(2000, 2, 29), date(2065, 2, 27)) == 64
    assert age_on(date(2000, 2, 29), date(2065, 2, 28)) == 65
