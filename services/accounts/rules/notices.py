"""Lead times of お知らせ (SERVICE-SPEC "Service"; the sheet's サービス変更・終了時の事前告知):
a maintenance notice at least one month before the maintenance starts, an end-of-service notice
at least three months before the service ends, unless marked an emergency.

"One month ahead" is a calendar month counted in Japan time: published 2026-01-15 10:00 JST, the
maintenance may start at 2026-02-15 10:00 JST or later. A day that the target month lacks becomes
its last day (published 01-31 → 02-28), the usual 応当日 reading (民法143条)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.clock import JST

LEAD_MONTHS: dict[str, int] = {"maintenance": 1, "end_of_service": 3}


def add_months(at: datetime, months: int) -> datetime:
    local = at.astimezone(JST)
    month0 = local.month - 1 + months
    year, month = local.year + month0 // 12, month0 % 12 + 1
    first_next = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=JST)
    last_day = (first_next - timedelta(days=1)).day
    return local.replace(year=year, month=month, day=min(local.day, last_day))


def earliest_start(kind: str, published_at: datetime) -> datetime | None:
    """The earliest moment the announced event may start; None when the kind has no lead time."""
    months = LEAD_MONTHS.get(kind)
    return None if months is None else add_months(published_at, months)


def lead_time_ok(kind: str, published_at: datetime, starts_at: datetime, emergency: bool) -> bool:
    if emergency:
        return True
    earliest = earliest_start(kind, published_at)
    return earliest is None or starts_at >= earliest
