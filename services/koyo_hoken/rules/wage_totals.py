"""An estimate of a 事業所's 雇用保険 賃金総額 for a fiscal year, from what this service knows of
its insured persons: each person's 賃金月額 (from the 資格取得届) times the months of the fiscal
year (April to March) in which they were insured for at least one day.

Why an estimate and not the 賃金総額: the 年度更新 needs the wages actually paid (bonuses, overtime,
raises included; DOMAIN.md B7), and this service holds no payroll. The figure is offered to the
事務組合 as a starting point that staff confirm or correct; it is never used on its own. What it
leaves out is said with it: persons without a 賃金月額 are counted and listed, not guessed.
A transferred person (転勤) counts at their current 事業所 for the whole year."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class PersonSpan:
    person_id: str
    hire_date: date  # 資格取得日
    leave_date: date | None  # 離職日 (the last day insured); None while insured
    monthly_wage: int | None  # 賃金月額, 円


@dataclass(frozen=True)
class PersonEstimate:
    person_id: str
    months: int
    monthly_wage: int | None
    wages: int  # monthly_wage × months; 0 without a 賃金月額


@dataclass(frozen=True)
class WageEstimate:
    fiscal_year: int
    koyo_wages: int  # Σ wages of the persons with a 賃金月額
    persons: tuple[PersonEstimate, ...]  # only those insured in some month of the year
    without_wage: int  # insured in the year, but no 賃金月額 known: not in koyo_wages


def fiscal_months(fiscal_year: int) -> list[tuple[date, date]]:
    """The twelve months of a fiscal year as (first day, last day), April to March."""
    months = []
    for i in range(12):
        year, month = (fiscal_year, 4 + i) if i < 9 else (fiscal_year + 1, i - 8)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        months.append((date(year, month, 1), date.fromordinal(nxt.toordinal() - 1)))
    return months


def months_insured(span: PersonSpan, fiscal_year: int) -> int:
    """Months of the fiscal year with at least one day between the 資格取得日 and the 離職日."""
    return sum(1 for first, last in fiscal_months(fiscal_year)
               if span.hire_date <= last and (span.leave_date is None or span.leave_date >= first))


def estimate(spans: Iterable[PersonSpan], fiscal_year: int) -> WageEstimate:
    persons = []
    for s in spans:
        months = months_insured(s, fiscal_year)
        if months:
            wages = (s.monthly_wage or 0) * months
            persons.append(PersonEstimate(s.person_id, months, s.monthly_wage, wages))
    persons.sort(key=lambda p: p.person_id)
    return WageEstimate(fiscal_year, sum(p.wages for p in persons), tuple(persons),
                        sum(1 for p in persons if p.monthly_wage is None))
