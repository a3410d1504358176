"""When to try a failed delivery again (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_delay(failures: int, base: float, cap: float) -> float:
    """Seconds to wait after the `failures`-th failed attempt: base × 2^(failures-1), at most cap."""
    return float(min(cap, base * (2 ** max(0, min(failures - 1, 40)))))


def gives_up(first_attempt_at: datetime, now: datetime, retry_for: timedelta) -> bool:
    """A delivery failing since `first_attempt_at` is given up once `retry_for` has passed."""
    return now - first_attempt_at >= retry_for


def schedule(base: float, cap: float, retry_for: timedelta) -> list[float]:
    """Every wait of a delivery that never succeeds, for the docs and tests: their sum reaches retry_for."""
    waits: list[float] = []
    total = 0.0
    n = 1
    while total < retry_for.total_seconds():
        d = next_delay(n, base, cap)
        waits.append(d)
        total += d
        n += 1
    return waits
