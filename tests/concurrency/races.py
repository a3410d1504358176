"""A small harness for this suite's race cases: a service app served by uvicorn on loopback (its
relay and consumers on the test NATS, its test database), and N requests released at once from
threads, each on its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from shared.settings import CommonSettings
from tests.gateway.support import ServerThread


@contextmanager
def served(name: str, settings: CommonSettings, **kwargs: Any) -> Iterator[str]:
    """The service `name` (services.<name>.app.create_app) on a free port: its base URL."""
    import importlib

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
    out: list[httpx.Response] = []
    for a in answers:
        if isinstance(a, BaseException):
            raise a
        assert a is not None, "a call did not finish"
        out.append(a)
    return out
