"""The time source of rules that depend on it (password age, lockout, deadlines, retention).

Production uses the system clock; tests swap in a FrozenClock they move by hand, so time rules
are tested at their exact boundaries without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, at: datetime) -> None:
        self._now = at.astimezone(UTC)


SYSTEM_CLOCK = SystemClock()
