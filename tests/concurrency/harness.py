"""The concurrency suite's tools: fire N requests at once and look at what came back, the
registry of which write routes a case covers, and the figures printed at the end of a run.

A case is a test that sends the same (or competing) write requests in parallel — to an app
in-process (a TestClient, whose portal runs every request on one event loop and the sync routes on
its thread pool, so they really overlap in the database) or to real processes over httpx — and
then checks an invariant in the database or through the API. Each case names the routes it covers
with `@covers("POST /api/v1/…")` (or a module-level `COVERS = [...]`); tests/concurrency/
test_route_listing.py requires every write route of every service to be covered by a case or
listed in tests/concurrency/exclusions.py with a reason."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

# At most this many requests at once: the suite runs in make test-pg and CI on small machines.
MAX_PARALLEL = 20

# Printed at the end of the run (tests/concurrency/conftest.py).
FIGURES: Counter[str] = Counter()

F = TypeVar("F", bound=Callable[..., Any])


def covers(*routes: str) -> Callable[[F], F]:
    """Mark a case as covering these write routes ("METHOD /path" as in the OpenAPI document)."""

    def mark(fn: F) -> F:
        fn.concurrency_covers = tuple(routes)  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass(frozen=True)
class Outcome:
    """One parallel request: its response, or the exception the client raised."""

    index: int
    response: httpx.Response | None
    error: BaseException | None = None

    @property
    def status(self) -> int:
        return self.response.status_code if self.response is not None else -1


def fire(n: int, call: Callable[[int], httpx.Response], *, timeout: float = 60.0) -> list[Outcome]:
    """Run call(0) … call(n-1) in n threads released together by a barrier, so they overlap as much
    as a machine allows. Bounded by MAX_PARALLEL. Counts the requests and any 5xx in FIGURES."""
    if not 1 <= n <= MAX_PARALLEL:
        raise ValueError(f"1..{MAX_PARALLEL} parallel requests, not {n}")
    barrier = threading.Barrier(n)

    def one(i: int) -> Outcome:
        try:
            barrier.wait(timeout)
            return Outcome(i, call(i))
        except Exception as exc:
            return Outcome(i, None, exc)

    with ThreadPoolExecutor(n) as pool:
        out = list(pool.map(one, range(n)))
    FIGURES["parallel requests sent"] += n
    FIGURES["5xx seen"] += sum(1 for o in out if o.status >= 500)
    return out


def statuses(outcomes: Sequence[Outcome]) -> list[int]:
    return sorted(o.status for o in outcomes)


def check(condition: bool, message: str) -> None:
    """An invariant checked after the parallel requests (counted in the figures)."""
    FIGURES["invariants checked"] += 1
    assert condition, message


def no_server_errors(outcomes: Sequence[Outcome]) -> None:
    """No 5xx and no request the client could not complete; every error answer is problem+json."""
    bad = [(o.status, o.response.text[:300] if o.response is not None else repr(o.error)) for o in outcomes
           if o.response is None or o.status >= 500]
    check(not bad, f"server errors or failed requests: {bad}")
    wrong_type = [o.status for o in outcomes if o.response is not None and o.status >= 400
                  and not o.response.headers.get("content-type", "").startswith("application/problem+json")]
    check(not wrong_type, f"error answers that are not problem+json: {wrong_type}")
