"""Several replicas of one service behind one route: least outstanding requests, ejection, safe retries.

`ROUMU_<SERVICE>_URL` may list several base URLs, comma-separated (`make run REPLICAS=2` does). Each
replica has its own keep-alive pool (gateway.upstream); the service's connection budget is shared
by its replicas. A request goes to the admitted replica with the fewest requests in flight (ties
taken in turn), so a slow replica gets fewer.

A replica is ejected for EJECT_SECONDS when a connection to it fails, or when its /readyz does not
answer 200 (a background check every HEALTH_INTERVAL, lists only); a later ready answer, or the end
of the period, admits it again. When every replica is ejected, they are all tried anyway: a 502
from a guess is no worse than one without trying.

A request moves to another replica only when that cannot run it twice (see `Upstream.send`):

* the connection failed before a byte was sent: always (the service never saw it);
* the connection broke before any byte of the answer came back and the whole body is still in hand:
  only for GET, HEAD and OPTIONS, and for writes that carry an `Idempotency-Key` (the service
  answers a repeat from its record, shared/idempotency.py). A bare POST whose body was sent may
  have run: its failure is the client's answer (502), never a second run."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx

from gateway.upstream import ConnectFailed, ConnectionBroken, ConnectTimeout, Header, Pool, _Conn

log = logging.getLogger("roumu.gateway")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_KEY = b"idempotency-key"


def split_urls(value: str) -> list[str]:
    """`http://a:1,http://b:2` → both; one URL → itself."""
    return [u.strip() for u in value.split(",") if u.strip()]


def retry_safe(method: str, headers: Sequence[Header]) -> bool:
    """May a request whose bytes reached a replica be sent to another one?"""
    if method in SAFE_METHODS:
        return True
    return any(name == IDEMPOTENCY_KEY and value.strip() for name, value in headers)


@dataclass
class Replica:
    url: str
    pool: Pool
    outstanding: int = 0
    ejected_until: float = 0.0

    def admitted(self, now: float) -> bool:
        return self.ejected_until <= now


class Upstream:
    """The replicas of one service."""

    def __init__(self, name: str, replicas: Sequence[Replica], eject_seconds: float) -> None:
        if not replicas:
            raise ValueError(f"{name}: no upstream URL")
        self.name = name
        self.replicas = list(replicas)
        self.eject_seconds = eject_seconds
        self._turn = 0

    def pick(self, tried: Sequence[Replica] = ()) -> Replica | None:
        """The admitted replica with the fewest requests in flight, not tried yet for this request."""
        now = time.monotonic()
        left = [r for r in self.replicas if r not in tried]
        if not left:
            return None
        admitted = [r for r in left if r.admitted(now)] or left
        self._turn = (self._turn + 1) % len(self.replicas)
        # Rotating the start makes ties go round instead of always to the first replica.
        rotated = admitted[self._turn % len(admitted):] + admitted[:self._turn % len(admitted)]
        return min(rotated, key=lambda r: r.outstanding)

    def eject(self, replica: Replica, why: str) -> None:
        if len(self.replicas) == 1:
            return  # nowhere else to go: ejecting changes nothing
        if replica.admitted(time.monotonic()):
            log.warning("upstream replica ejected", extra={"service": self.name, "replica": replica.url,
                                                           "reason": why})
        replica.ejected_until = time.monotonic() + self.eject_seconds

    def admit(self, replica: Replica) -> None:
        if not replica.admitted(time.monotonic()):
            log.info("upstream replica admitted again", extra={"service": self.name, "replica": replica.url})
        replica.ejected_until = 0.0

    async def send(self, method: str, target: bytes, headers: Sequence[Header], body: bytes | None,
                   stream: AsyncIterator[bytes] | None = None, length: int | None = None) -> tuple[Replica, _Conn]:
        """Send to one replica, moving on to the next when that is safe; answers the replica (its
        `outstanding` counts this request until `done`) and the connection with the head read."""
        tried: list[Replica] = []
        resend = stream is None and retry_safe(method, headers)
        while True:
            replica = self.pick(tried)
            assert replica is not None  # the loop stops retrying before every replica was tried
            tried.append(replica)
            replica.outstanding += 1
            try:
                conn = await replica.pool.send(method, target, headers, body, stream, length, resend=resend)
            except (ConnectFailed, ConnectTimeout) as exc:
                replica.outstanding -= 1
                self.eject(replica, f"connect: {exc}")
                if len(tried) < len(self.replicas):
                    continue  # nothing was sent: any request may go elsewhere
                raise
            except ConnectionBroken as exc:
                replica.outstanding -= 1
                self.eject(replica, f"broken: {exc}")
                if resend and len(tried) < len(self.replicas):
                    continue
                raise
            except BaseException:
                replica.outstanding -= 1
                raise
            return replica, conn

    @staticmethod
    def done(replica: Replica) -> None:
        replica.outstanding -= 1

    def close(self) -> None:
        for r in self.replicas:
            r.pool.close()


async def watch_health(client: httpx.AsyncClient, upstreams: Sequence[Upstream], interval: float,
                       wait_s: float, stop: asyncio.Event) -> None:
    """Ask every replica of every multi-replica service for /readyz each `interval`: not ready →
    ejected, ready → admitted again. A single replica is never checked (it has no alternative)."""
    watched = [(u, r) for u in upstreams if len(u.replicas) > 1 for r in u.replicas]
    if not watched:
        return

    async def check(upstream: Upstream, replica: Replica) -> None:
        try:
            response = await client.get(replica.url.rstrip("/") + "/readyz", timeout=wait_s)
            ready = response.status_code == 200
            why = f"/readyz {response.status_code}"
        except httpx.HTTPError as exc:
            ready, why = False, f"/readyz {type(exc).__name__}"
        if ready:
            upstream.admit(replica)
        else:
            upstream.eject(replica, why)

    while not stop.is_set():
        await asyncio.gather(*(check(u, r) for u, r in watched))
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass


class FailoverTransport(httpx.AsyncBaseTransport):
    """The control-plane client's transport (tenant settings, keys, device CAs): a call addressed to a
    service's first replica goes to the next one when the connection cannot be made (nothing was
    sent, so any call may move). These calls are rare and cached, so they are not balanced."""

    def __init__(self, inner: httpx.AsyncBaseTransport, services: Sequence[Sequence[str]]) -> None:
        self.inner = inner
        self.alternates: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for urls in services:
            addresses = [_address(httpx.URL(u)) for u in urls]
            if len(addresses) > 1:
                self.alternates[addresses[0]] = addresses[1:]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        others = self.alternates.get(_address(request.url), [])
        for nxt in [*others, None]:
            try:
                return await self.inner.handle_async_request(request)
            except httpx.ConnectError:
                if nxt is None:
                    raise
                request.url = request.url.copy_with(host=nxt[0], port=nxt[1])
                request.headers["host"] = f"{nxt[0]}:{nxt[1]}"
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.inner.aclose()


def _address(url: httpx.URL) -> tuple[str, int]:
    return url.host, url.port or 80
