"""The 雇用保険 wage estimate of a 事業所 for a fiscal year (koyo_hoken/rules/wage_totals.py)."""

from datetime import date

from services.koyo_hoken.rules.wage_totals import PersonSpan, estimate, fiscal_months, months_insured


def test_fiscal_year_months_run_april_to_march_with_their_last_days():
    months = fiscal_months(2024)
    assert months[0] == (date(2024, 4, 1), date(2024, 4, 30))
    assert months[10] == (date(2025, 2, 1), date(2025, 2, 28))
    assert months[11] == (date(2025, 3, 1), date(2025, 3, 31))
    assert fiscal_months(2023)[10] == (date(2024, 2, 1), date(2024, 2, 29))  # leap year


def test_a_month_counts_when_insured_on_any_day_of_it():
    fy = 2025
    assert months_insured(PersonSpan("a", date(2020, 1, 1), None, 1), fy) == 12
    assert months_insured(PersonSpan("b", date(2025, 10, 31), None, 1), fy) == 6  # Oct–Mar
    assert months_insured(PersonSpan("c", date(2020, 1, 1), date(2025, 4, 1), 1), fy) == 1  # left on 4/1
    assert months_insured(PersonSpan("d", date(2020, 1, 1), date(2025, 3, 31), 1), fy) == 0  # left before
    assert months_insured(PersonSpan("e", date(2026, 4, 1), None, 1), fy) == 0  # hired after
    assert months_insured(PersonSpan("f", date(2025, 6, 15), date(2025, 8, 10), 1), fy) == 3  # Jun, Jul, Aug


def test_worked_example_of_one_jigyosho():
    """Three persons in FY2025: 250,000 × 12 + 180,000 × 6 (hired 10/1) + 300,000 × 2 (left 5/20) =
    3,000,000 + 1,080,000 + 600,000 = 4,680,000 円; a fourth without a 賃金月額 is listed, not guessed;
    a fifth who left in March 2025 is not in the year."""
    spans = [PersonSpan("p1", date(2019, 4, 1), None, 250_000),
             PersonSpan("p2", date(2025, 10, 1), None, 180_000),
             PersonSpan("p3", date(2023, 4, 1), date(2025, 5, 20), 300_000),
             PersonSpan("p4", date(2024, 1, 1), None, None),
             PersonSpan("p5", date(2024, 1, 1), date(2025, 3, 15), 400_000)]
    e = estimate(spans, 2025)
    assert e.koyo_wages == 4_680_000
    assert [(p.person_id, p.months, p.wages) for p in e.persons] == [
        ("p1", 12, 3_000_000), ("p2", 6, 1_080_000), ("p3", 2, 600_000), ("p4", 12, 0)]
    assert e.without_wage == 1
