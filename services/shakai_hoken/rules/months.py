"""Month arithmetic on (year, month) pairs, used for premium months and effective months."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple


class Month(NamedTuple):
    year: int
    month: int

    @classmethod
    def of(cls, d: date) -> Month:
        return cls(d.year, d.month)

    def plus(self, n: int) -> Month:
        i = self.year * 12 + (self.month - 1) + n
        return Month(i // 12, i % 12 + 1)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, s: str) -> Month:
        y, m = s.split("-")
        month = cls(int(y), int(m))
        if not 1 <= month.month <= 12:
            raise ValueError(f"not a month: {s}")
        return month


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from `first` to `last`, both included (empty when last < first)."""
    out: list[Month] = []
    m = first
    while m <= last:
        out.append(m)
        m = m.plus(1)
    return out
