"""Connection budgets: how many requests one tenant, or one anonymous client address, has in flight.

The upstream pool is shared by everyone; without a budget one tenant (or one address sending slow
bodies) could hold every slot and leave the rest with 503. Each request takes a place in its
source's budget from the token check until its response is done; a source at its limit gets 429 at
once, before a byte of its body is read or a service is asked. Counts are per gateway process (each
worker and replica has its own), like the in-memory rate counters."""

from __future__ import annotations

from gateway.refusals import Refused


def over_budget() -> Refused:
    return Refused(429, "too-many-concurrent-requests", "同時に処理中のリクエストが多すぎます",
                   "処理中のリクエストが終わってから再度お試しください", reason="rate_limited",
                   headers={"Retry-After": "1"})


class Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight: dict[str, int] = {}

    def enter(self, key: str) -> None:
        """Take a place for `key` (429 when it has `limit` already); `leave` gives it back."""
        n = self.in_flight.get(key, 0)
        if self.limit > 0 and n >= self.limit:
            raise over_budget()
        self.in_flight[key] = n + 1

    def leave(self, key: str) -> None:
        n = self.in_flight.get(key, 0) - 1
        if n > 0:
            self.in_flight[key] = n
        else:
            self.in_flight.pop(key, None)
