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

import importlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from shared.settings import CommonSettings
from tests.gateway.support import ServerThread

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


# --- a service served by uvicorn on loopback, and calls on their own connections -----------------


@contextmanager
def served(name: str, settings: CommonSettings, **kwargs: Any) -> Iterator[str]:
    """The service `name` (services.<name>.app.create_app) on a free port: its base URL."""
    create_app = importlib.import_module(f"services.{name}.app").create_app
    server = ServerThread(create_app(settings=settings, **kwargs), http="httptools").start()
    try:
        yield server.url
    finally:
        server.stop()


def at_once(base_url: str, calls: Sequence[Callable[[httpx.Client], httpx.Response]],
            timeout: float = 60.0) -> list[httpx.Response]:
    """Run every call in its own thread and client, all released by one barrier; the answers in the
    order of `calls` (an exception in a call is raised here)."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            client.get("/healthz")  # the connection is open before the barrier
            barrier.wait()
            try:
                answers[i] = calls[i](client)
            except BaseException as exc:  # re-raised in the caller's thread
                answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    FIGURES["parallel requests sent"] += len(calls)
    FIGURES["5xx seen"] += sum(1 for a in answers if isinstance(a, httpx.Response) and a.status_code >= 500)
    out: list[httpx.Response] = []
    for a in answers:
        if isinstance(a, BaseException):
            raise a
        assert a is not None, "a call did not finish"
        out.append(a)
    return out
