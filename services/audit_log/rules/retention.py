"""Categories of entries and how long each is kept.

The sheet: login history and lockout records 1 year; operation logs 90 days (the log screen's
window). An entry's category follows from its event type alone, so it is fixed when the entry is
stored and each category forms its own hash chain per tenant (see chain.py): a chain is purged
by prefix, oldest first, and two retention periods in one chain would leave holes in it."""

from __future__ import annotations

from datetime import datetime, timedelta

LOGIN = "login"
OPERATION = "operation"
CATEGORIES: tuple[str, ...] = (LOGIN, OPERATION)

# auth's login history and lockout records (contracts/events/roumu.auth.*).
LOGIN_TYPES = frozenset({
    "roumu.auth.login.succeeded",
    "roumu.auth.login.failed",
    "roumu.auth.account.locked",
    "roumu.auth.account.unlocked",
})
OPERATION_DAYS = 90


def category_of(event_type: str) -> str:
    return LOGIN if event_type in LOGIN_TYPES else OPERATION


def one_year_before(at: datetime) -> datetime:
    """The same calendar moment a year earlier; 29 February becomes 28 February."""
    try:
        return at.replace(year=at.year - 1)
    except ValueError:
        return at.replace(year=at.year - 1, day=28)


def cutoff(category: str, now: datetime) -> datetime:
    """Entries that occurred before this moment are past their retention (and out of the log
    screen's window); entries at or after it are kept."""
    if category == LOGIN:
        return one_year_before(now)
    if category == OPERATION:
        return now - timedelta(days=OPERATION_DAYS)
    raise ValueError(f"unknown category {category!r}")
