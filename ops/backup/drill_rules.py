"""When the monthly restore drill is due, and how its last result reads (pure: the caller passes
the clock's now). The sheet promises RTO 4 h: a drill whose measured restore took longer fails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.clock import JST

RTO_LIMIT_SECONDS = 4 * 3600.0


def rto_problem(rto_seconds: float | None, limit_seconds: float = RTO_LIMIT_SECONDS) -> str | None:
    if rto_seconds is None or rto_seconds <= limit_seconds:
        return None
    return f"RTO {rto_seconds / 3600:.2f} h exceeds the {limit_seconds / 3600:.1f} h the service promises"


def drill_due(now: datetime, last_at: datetime | None, day_of_month: int) -> bool:
    """Due once a month, from `day_of_month` (JST) on, when no drill ran yet this month (JST)."""
    local = now.astimezone(JST)
    if local.day < day_of_month:
        return False
    if last_at is None:
        return True
    last = last_at.astimezone(JST)
    return (last.year, last.month) != (local.year, local.month)


@dataclass(frozen=True)
class DrillStatus:
    level: str  # ok | warn | crit
    age_seconds: float | None
    message: str


def drill_status(last: dict[str, Any] | None, now: datetime, max_age_days: float) -> DrillStatus:
    """The monitor's reading of the last drill's record: failed → crit; older than `max_age_days`
    (a month and its slack) → crit (overdue); none yet → warn."""
    if not last:
        return DrillStatus("warn", None, "no restore drill recorded yet")
    at = datetime.fromisoformat(str(last["at"]))
    age = (now - at).total_seconds()
    rto = last.get("rto_seconds")
    what = f"{last.get('backup_id', '?')}, {age / 86400:.1f} days ago, RTO " + \
        (f"{float(rto) / 60:.1f} min" if rto is not None else "not measured")
    if not last.get("ok"):
        problems = "; ".join(str(p) for p in last.get("problems", [])[:2])
        return DrillStatus("crit", age, f"the last drill FAILED ({what}): {problems}"[:300])
    if age > timedelta(days=max_age_days).total_seconds():
        return DrillStatus("crit", age, f"restore drill overdue ({what})")
    return DrillStatus("ok", age, what)
