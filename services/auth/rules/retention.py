"""How long login history and lockout records are kept: whole calendar years (the sheet: 1 year),
as the audit log keeps its login category. Counting 365 days would fall one day short whenever the
year spans a 29 February."""

from __future__ import annotations

from datetime import datetime


def kept_since(now: datetime, years: int = 1) -> datetime:
    """The same calendar moment `years` earlier (29 February becomes 28 February): records at or
    after it are kept, older ones purged."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)
