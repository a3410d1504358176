"""Account lockout and per-source throttling (SERVICE-SPEC; Keycloak brute-force detection).

After `threshold` consecutive failures the account locks for `duration`, or until an
administrator unlocks it when the tenant says so. Failures while locked do not add to the count
(as Keycloak), a success clears it (NIST 800-63B §3.2.2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int = 5
    duration: timedelta = timedelta(minutes=30)
    admin_unlock_only: bool = False

    @classmethod
    def from_settings(cls, raw: dict[str, Any] | None) -> LockoutPolicy:
        raw = raw or {}
        d = cls()
        threshold = raw.get("threshold")
        minutes = raw.get("duration_minutes")
        admin_only = raw.get("admin_unlock_only")
        # NIST caps consecutive failures at 100; fewer than 3 locks out typing slips.
        return cls(
            threshold=min(100, max(3, threshold)) if isinstance(threshold, int) else d.threshold,
            duration=timedelta(minutes=max(1, minutes)) if isinstance(minutes, int) else d.duration,
            admin_unlock_only=admin_only if isinstance(admin_only, bool) else d.admin_unlock_only,
        )


@dataclass(frozen=True)
class LockState:
    failed_count: int = 0
    locked_at: datetime | None = None
    # None while locked_at is set: locked until an administrator unlocks.
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_at is not None and (self.locked_until is None or now < self.locked_until)

    def lapsed(self, now: datetime) -> bool:
        """Locked for a period that has now passed: to be recorded as unlocked."""
        return self.locked_at is not None and self.locked_until is not None and now >= self.locked_until


@dataclass(frozen=True)
class FailureOutcome:
    state: LockState
    locked_now: bool


def after_failure(state: LockState, policy: LockoutPolicy, now: datetime) -> FailureOutcome:
    if state.is_locked(now):
        return FailureOutcome(state, False)
    count = (0 if state.lapsed(now) else state.failed_count) + 1
    if count >= policy.threshold:
        until = None if policy.admin_unlock_only else now + policy.duration
        return FailureOutcome(LockState(count, now, until), True)
    return FailureOutcome(LockState(count, None, None), False)


def cleared() -> LockState:
    return LockState()


@dataclass(frozen=True)
class SourceThrottle:
    """Per source address: more than `limit` failures in `window` → refused for a while,
    whichever accounts they were against (password spraying)."""

    limit: int = 30
    window: timedelta = timedelta(minutes=15)

    def retry_after(self, failures_in_window: int) -> int | None:
        """Seconds to wait when throttled, else None."""
        if failures_in_window >= self.limit:
            return int(self.window.total_seconds())
        return None
