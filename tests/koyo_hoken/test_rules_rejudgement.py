"""The re-judgement rule (issue 25) against DOMAIN.md A1.2 (令和6年法律第26号: 10 h from 2028-10-01)
and its worked example A, with the 資格取得届 deadline of A2 (翌月10日)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from services.koyo_hoken.rules import eligibility as el
from services.koyo_hoken.rules import rejudgement as rj

AS_OF = date(2028, 10, 1)


def facts(hours: str, hired: date = date(2025, 4, 1), **kw: object) -> el.Facts:
    return el.Facts(on=AS_OF, birth_date=date(1990, 5, 5), weekly_hours=Decimal(hours), employment_start=hired,
                    **kw)  # type: ignore[arg-type]


def test_the_scheduled_dates_are_the_rule_changes_after_the_first():
    assert rj.change_dates() == (date(2028, 10, 1),)


def test_a_12_hour_part_timer_becomes_insured_on_2028_10_01_and_a_shutoku_todoke_falls_due():
    f = facts("12")
    prev = rj.previous_of(f, None, None)
    assert (prev.insured, prev.rule_version) == (False, "koyo-eligibility/2022-01-01")  # 20 h rule on 9/30
    decision, change = rj.rejudge(f, prev, employed_before=True)
    assert decision.insured and decision.rule_version == "koyo-eligibility/2028-10-01"
    assert change is not None and change.procedure_kind == "shikaku_shutoku"
    assert change.deadline is not None
    # 翌月10日 (雇用保険法施行規則6条): 2028-11-10. Independently: a Friday, and no 祝日 that day.
    assert (change.deadline.raw, change.deadline.due) == (date(2028, 11, 10), date(2028, 11, 10))
    assert calendar.weekday(2028, 11, 10) == calendar.FRIDAY


def test_worked_example_a_of_domain_md_18_hours_on_a_renewable_6_month_contract():
    """DOMAIN.md A1 worked example A: 18 h/week, 6-month contract from 2025-06: not insured (under
    20 h); from 2028-10-01 the same contract is insured (10 h or more)."""
    f = facts("18", hired=date(2025, 6, 1), contract_end=date(2025, 11, 30), renewal_clause=True)
    before = el.decide(rj.facts_on(date(2025, 6, 1), f))
    assert not before.insured and before.reason_code == "under_weekly_hours"
    _, change = rj.rejudge(f, rj.previous_of(f, None, None), employed_before=True)
    assert change is not None and change.decision.insured and change.procedure_kind == "shikaku_shutoku"


def test_a_25_hour_person_is_unchanged_and_a_9_hour_person_stays_out():
    for hours, insured in (("25", True), ("9.5", False)):
        f = facts(hours)
        decision, change = rj.rejudge(f, rj.previous_of(f, None, None), employed_before=True)
        assert change is None and decision.insured is insured


def test_a_hire_on_the_date_itself_is_an_ordinary_hire_not_a_change():
    f = facts("12", hired=AS_OF)
    decision, change = rj.rejudge(f, rj.previous_of(f, None, None), employed_before=False)
    assert decision.insured and change is None


def test_a_stored_decision_of_an_earlier_date_is_the_previous_status():
    f = facts("12")
    stored = rj.Previous(True, "koyo-eligibility/2022-01-01")  # e.g. hours lowered since, already known
    assert rj.previous_of(f, stored, AS_OF - timedelta(days=30)) == stored
    _, change = rj.rejudge(f, stored, employed_before=True)
    assert change is None
    # A stored decision of the same date is this date's result: the previous is the day before's rules.
    assert rj.previous_of(f, stored, AS_OF).insured is False


def test_becoming_not_insured_requires_a_soshitsu_todoke_within_10_days_from_the_next_day():
    f = facts("12", student=el.Student.DAYTIME)
    _, change = rj.rejudge(f, rj.Previous(True, "x"), employed_before=True)
    assert change is not None and change.procedure_kind == "shikaku_soshitsu"
    assert change.deadline is not None and change.deadline.raw == AS_OF + timedelta(days=10)
