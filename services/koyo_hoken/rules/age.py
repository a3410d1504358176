"""Age on a date, as Japanese law counts it.

年齢計算ニ関スル法律 with 民法143条: a person reaches age n at the end of the day before the n-th
birthday, so 「n歳に達した日」 is the day before the birthday, and on that day the person is treated
as n (the 雇用保険 practice for 65歳 / 59歳 tests). [導出] from the statute; DOMAIN.md A1/A2 only say
"65 or older" / "59 or older on the 離職日". A 29 February birthday reaches its age on 28 February."""

from __future__ import annotations

from datetime import date, timedelta


def age_on(birth_date: date, on: date) -> int:
    """Completed years on `on`, counting the day before each birthday as the day the age is reached."""
    d = on + timedelta(days=1)  # reached on the eve of the birthday
    years = d.year - birth_date.year
    if (d.month, d.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years
