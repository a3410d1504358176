"""Retention of the 事務組合's three statutory books (徴収法36条, 施行規則68条 / 72条; DOMAIN.md B9).

| book | years | counted from (the day the line is 完結) |
| --- | --- | --- |
| 労働保険事務等処理委託事業主名簿 (a member) | 3 | 委託解除日 (`entrusted_until`) |
| 労働保険料等徴収及び納付簿 (a member's page of one 年度) | 3 | the latest date on the settled page |
| 雇用保険被保険者関係届出事務等処理簿 (one 届出) | 4 | the day the 届出 ended (completed / withdrawn) |

DOMAIN.md gives the start point ("from completion", 完結の日) for the 名簿 only; for the other two it
gives the years alone. **[要確認]** We read all three as counted from completion, the later (safer)
reading: a line still open — a member still entrusted, a page with money owed, collected but not
owed, or a refund not passed on, a 届出 not finished — is never complete and so never expires.

Counting (民法140条・143条, **[導出]**): the day of completion is not counted; the period ends at the
end of the day before the corresponding day `years` later (of a period starting the day after), so a
line completed on `d` is kept through `d + years` and may be purged from the day after. A period
starting on 2/29 whose corresponding day does not exist ends on 2/28 (the last day of that month),
so the purge may start on 3/1."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

MEMBER_REGISTER_YEARS = 3  # 労働保険事務等処理委託事業主名簿
LEDGER_YEARS = 3  # 労働保険料等徴収及び納付簿
FILING_BOOK_YEARS = 4  # 雇用保険被保険者関係届出事務等処理簿

OWED_KINDS = frozenset({"estimate", "shortage", "general_contribution"})
CLOSED_FILING_STATES = frozenset({"completed", "withdrawn"})


def purge_from(completed_on: date, years: int) -> date:
    """The first day a line completed on `completed_on` may be deleted."""
    start = completed_on + timedelta(days=1)  # 初日不算入
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # a start on 2/29, no 2/29 `years` later: kept through 2/28
        return date(start.year + years, 3, 1)


def expired(completed_on: date | None, years: int, today: date) -> bool:
    """A line never completed (None) never expires."""
    return completed_on is not None and today >= purge_from(completed_on, years)


@dataclass(frozen=True)
class PageEntry:
    """What the rule needs of a ledger entry (reversals carry the opposite amount)."""

    kind: str
    amount: int
    occurred_on: date
    due_on: date | None


def ledger_page_completed_on(entries: Iterable[PageEntry]) -> date | None:
    """The day a member's page of one 年度 is complete: the latest date on it, once what it owes
    equals what was collected under it and every refund claimed was passed on (net of reversals).
    None while it is open (or empty)."""
    owed = collected = claimed = passed_on = 0
    last: date | None = None
    for e in entries:
        if e.kind in OWED_KINDS:
            owed += e.amount
        elif e.kind == "collected":
            collected += e.amount
        elif e.kind == "refund_claimed":
            claimed += e.amount
        elif e.kind == "refund_paid":
            passed_on += e.amount
        for d in (e.occurred_on, e.due_on):
            if d is not None and (last is None or d > last):
                last = d
    if last is None or owed != collected or claimed != passed_on:
        return None
    return last


def member_completed_on(entrusted_until: date | None) -> date | None:
    """A member's line of the 名簿 is complete on its 委託解除日."""
    return entrusted_until


def member_purgeable(entrusted_until: date | None, today: date, other_books_hold_it: bool) -> bool:
    """A member leaves the 名簿 when its own period is over and neither of the other books still
    holds a line of it (their lines name the member; keeping it longer is the safe side)."""
    return expired(member_completed_on(entrusted_until), MEMBER_REGISTER_YEARS, today) and not other_books_hold_it


def filing_completed_on(status: str | None, closed_on: date | None) -> date | None:
    """A 届出's line is complete when the 届出 ended (completed or withdrawn)."""
    return closed_on if status in CLOSED_FILING_STATES else None
