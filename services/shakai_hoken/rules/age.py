"""年齢到達日 as Japanese law counts it (年齢計算ニ関スル法律 and 民法143条; DOMAIN-SHAHO.md §4.5, §7.2).

A person reaches age n on the day before the n-th birthday (到達日). A 29 February birthday reaches
its age on 28 February of a common year (the day before 1 March)."""

from __future__ import annotations

from datetime import date, timedelta


def birthday_in(birth_date: date, year: int) -> date:
    """The birthday in `year`; 29 February becomes 1 March in a common year (its eve is 28 February)."""
    try:
        return birth_date.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


def reaching_date(birth_date: date, age: int) -> date:
    """n歳到達日: the day before the n-th birthday."""
    return birthday_in(birth_date, birth_date.year + age) - timedelta(days=1)


def age_on(birth_date: date, on: date) -> int:
    """Completed years on `on`, the age being reached on the eve of each birthday."""
    years = on.year - birth_date.year + 1  # a 1 January birthday reaches it on 12/31 of the year before
    while years > 0 and reaching_date(birth_date, years) > on:
        years -= 1
    return years
