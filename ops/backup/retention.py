"""Which generations to delete. Pure: the caller passes the generations and now.

* Only verified generations count as good. A failed or unverified run counts for nothing, so it
  never pushes a good generation out of the `keep` newest.
* At most `keep` good generations (primary: 7 daily).
* Older than `max_age` goes (secondary: 35 days), except the newest good generation, which is kept
  until a newer one verifies (pgBackRest's rule for time-based retention): even after weeks of
  failed runs there is something to restore. The monitor alerts long before that.
* A failed generation goes once a newer good one exists, or past `max_age`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class GenerationInfo:
    backup_id: str
    created_at: datetime
    verified: bool


def to_delete(generations: Sequence[GenerationInfo], now: datetime, keep: int | None = None,
              max_age: timedelta | None = None) -> list[str]:
    if keep is not None and keep < 1:
        raise ValueError("keep must be at least 1")
    good = sorted((g for g in generations if g.verified), key=lambda g: g.created_at, reverse=True)
    newest_good = good[0] if good else None
    cutoff = now - max_age if max_age is not None else None
    doomed: list[str] = []
    for i, g in enumerate(good):
        if g is newest_good:
            continue
        if (keep is not None and i >= keep) or (cutoff is not None and g.created_at < cutoff):
            doomed.append(g.backup_id)
    for g in generations:
        if g.verified:
            continue
        superseded = newest_good is not None and g.created_at < newest_good.created_at
        if superseded or (cutoff is not None and g.created_at < cutoff):
            doomed.append(g.backup_id)
    return sorted(doomed)
