"""When the daily backup runs: at a configured JST time no earlier than 23:00 (the disclosure
sheet: "daily, after 23:00"). Pure: the caller passes the clock's now."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from shared.clock import JST

EARLIEST = time(23, 0)


def parse_time(text: str) -> time:
    """`HH:MM` (JST) at or after 23:00 and before midnight."""
    try:
        hh, mm = text.strip().split(":")
        at = time(int(hh), int(mm))
    except ValueError as exc:
        raise ValueError(f"backup time {text!r} is not HH:MM") from exc
    if at < EARLIEST:
        raise ValueError(f"backup time {text} is before 23:00 JST (the sheet: daily after 23:00)")
    return at


def next_run(now: datetime, at: str) -> datetime:
    """The next run at or after `now` (aware), in JST."""
    if now.tzinfo is None:
        raise ValueError("next_run needs an aware datetime")
    when = parse_time(at)
    local = now.astimezone(JST)
    candidate = local.replace(hour=when.hour, minute=when.minute, second=0, microsecond=0)
    if candidate < local:
        candidate = (local + timedelta(days=1)).replace(hour=when.hour, minute=when.minute, second=0,
                                                         microsecond=0)
    return candidate
