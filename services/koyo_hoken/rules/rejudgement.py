"""Re-judging eligibility on a date (issue 25): who changes status, and what each change requires.

* The dates: every rule change of ``eligibility.RULESETS`` after the first (the rules in force
  before the first are the first's). Today: 2028-10-01, when the weekly-hours threshold drops from
  20 h to 10 h (令和6年法律第26号 [確認], shared/DOMAIN.md A1.2; worked example A there: 18 h/week is
  not insured, and from 2028-10-01 the same contract is).
* A person employed before `as_of` (hired earlier, not left before it) whose decision on `as_of`
  differs from the previous one (the stored decision when it was judged before `as_of`, else the
  decision under the rules of the day before) changes status. A person hired on or after `as_of`
  is an ordinary hire, judged but not listed.
* Not insured → insured: a 資格取得届 with 取得日 = `as_of`, due by the 10th of the following month
  (雇用保険法施行規則6条 [確認]; moved to the next 行政機関 business day by the practice setting,
  ``deadlines.shikaku_shutoku``). 2028-10-01 → due 2028-11-10 (a Friday, not moved).
* Insured → not insured (a rule could also narrow): a 資格喪失届 with 喪失日 = `as_of`, due within 10
  days from the day after (``deadlines.shikaku_soshitsu``) [導出: no such rule change is announced].
* A person who already holds a 被保険者番号 and becomes insured still needs the 取得届 at this
  事業所 (the number identifies the person, not the insured employment here) [導出]."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.koyo_hoken.rules import deadlines as dl
from services.koyo_hoken.rules import eligibility as el


def change_dates() -> tuple[date, ...]:
    """The dates on which a rule change may change someone's status (scheduled re-judgements)."""
    return tuple(rs.effective_from for rs in el.RULESETS[1:])


@dataclass(frozen=True)
class Previous:
    """What the person's status was before `as_of`."""

    insured: bool
    rule_version: str


@dataclass(frozen=True)
class Change:
    previous: Previous
    decision: el.Decision
    procedure_kind: str | None  # shikaku_shutoku | shikaku_soshitsu
    deadline: dl.Deadline | None


def facts_on(on: date, facts: el.Facts) -> el.Facts:
    return el.Facts(on=on, birth_date=facts.birth_date, weekly_hours=facts.weekly_hours,
                    employment_start=facts.employment_start, contract_end=facts.contract_end,
                    renewal_clause=facts.renewal_clause, renewal_practice=facts.renewal_practice,
                    student=facts.student, other_jobs=facts.other_jobs)


def previous_of(facts: el.Facts, stored: Previous | None, stored_on: date | None) -> Previous:
    """The stored decision when judged before `facts.on`; else the rules of the day before."""
    if stored is not None and stored_on is not None and stored_on < facts.on:
        return stored
    d = el.decide(facts_on(facts.on - timedelta(days=1), facts))
    return Previous(d.insured, d.rule_version)


def rejudge(facts: el.Facts, previous: Previous, employed_before: bool, shift_fixed_dates: bool = True
            ) -> tuple[el.Decision, Change | None]:
    """The decision on `facts.on`, and the change it makes (None: unchanged, or a new hire)."""
    d = el.decide(facts)
    if not employed_before or d.insured == previous.insured:
        return d, None
    if d.insured:
        return d, Change(previous, d, "shikaku_shutoku", dl.shikaku_shutoku(facts.on, shift_fixed_dates))
    return d, Change(previous, d, "shikaku_soshitsu", dl.shikaku_soshitsu(facts.on))
