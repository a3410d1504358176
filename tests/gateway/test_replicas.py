"""Several replicas of one service behind the gateway (gateway/balancer.py), against real uvicorn
servers: least outstanding requests, ejection on a failed connect or /readyz, and a retry on
another replica only when the request cannot run twice."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from tests.gateway.support import Echo, ServerThread, _json


class Replica(Echo):
    """Echo that says which replica answered, counts what reached it, and has a /readyz to toggle."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.ready = True
        self.hits: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path == "/readyz":
            await _json(send, 200 if self.ready else 503, {"ready": self.ready})
            return
        if scope["type"] == "http" and path.endswith("/who"):
            key = scope["method"]
            self.hits[key] = self.hits.get(key, 0) + 1
            while (await receive()).get("more_body", False):
                pass
            await _json(send, 200, {"replica": self.name})
            return
        await super().__call__(scope, receive, send)


class Hangup:
    """A replica that accepts, reads a request head and hangs up without answering (a process that
    died while handling it): whether the request ran there is unknowable."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if b"/who" in data.split(b"\r\n", 1)[0]:  # not the gateway's /readyz checks
                    self.requests += 1

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def replicas() -> Iterator[tuple[Replica, Replica, str]]:
    a, b = Replica("a"), Replica("b")
    servers = [ServerThread(a, http="httptools").start(), ServerThread(b, http="httptools").start()]
    yield a, b, f"{servers[0].url},{servers[1].url}"
    for app in (a, b):
        app.release.set()
    for s in servers:
        s.stop()


@pytest.fixture
def hangup() -> Iterator[Hangup]:
    h = Hangup()
    yield h
    h.close()


def who(gw: str, method: str = "GET", **kw: object) -> httpx.Response:
    return httpx.request(method, f"{gw}/api/v1/accounts/who", timeout=30, **kw)  # type: ignore[arg-type]


def test_requests_are_spread_over_the_replicas(replicas, start_gateway):
    a, b, urls = replicas
    gw = start_gateway({"accounts": urls})
    answered = {who(gw).json()["replica"] for _ in range(6)}
    assert answered == {"a", "b"}
    assert a.hits["GET"] + b.hits["GET"] == 6


def test_a_replica_busy_with_a_slow_request_gets_none_of_the_next(replicas, start_gateway):
    a, b, urls = replicas
    gw = start_gateway({"accounts": urls})
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(httpx.get, f"{gw}/api/v1/accounts/slow", timeout=60)
        # Wait until one replica holds it (the other answers everything meanwhile).
        while True:
            names = [who(gw).json()["replica"] for _ in range(4)]
            if len(set(names)) == 1:
                break
        busy = a if names[0] == "b" else b
        free = b if busy is a else a
        before = dict(free.hits)
        names = [who(gw).json()["replica"] for _ in range(8)]
        assert names == [free.name] * 8  # least outstanding: the busy one has 1, the free one 0
        assert free.hits["GET"] == before.get("GET", 0) + 8
        a.release.set()
        b.release.set()
        assert slow.result().status_code == 200


def test_a_replica_that_refuses_connections_costs_no_request(replicas, start_gateway, down_url):
    a, _, urls = replicas
    gw = start_gateway({"accounts": f"{down_url},{urls.split(',')[0]}"}, eject_seconds=0)
    # Nothing was sent to the dead one: GETs and even bare POSTs go to the live one.
    for method in ("GET", "POST", "GET", "POST"):
        r = who(gw, method, json={"x": 1})
        assert r.status_code == 200 and r.json()["replica"] == "a"
    assert a.hits == {"GET": 2, "POST": 2}


def test_a_refused_connection_ejects_the_replica(replicas, start_gateway_app, down_url):
    _, _, urls = replicas
    gw, app = start_gateway_app({"accounts": f"{down_url},{urls.split(',')[0]}"}, eject_seconds=3600,
                                health_interval=3600)
    for _ in range(2):  # whichever replica the first pick was, the dead one has been met now
        assert who(gw).status_code == 200
    upstream = app.gateway.rt.proxy.upstreams["accounts"]
    dead = next(r for r in upstream.replicas if r.url == down_url)
    assert not dead.admitted(time.monotonic())


def test_a_hangup_after_the_request_was_sent_is_retried_only_when_safe(replicas, hangup, start_gateway):
    a, _, urls = replicas
    # eject_seconds=0: the hung-up replica stays in the rotation, so every kind of request meets it.
    gw = start_gateway({"accounts": f"{hangup.url},{urls.split(',')[0]}"}, eject_seconds=0)
    for _ in range(4):
        assert who(gw, "GET").status_code == 200
        assert who(gw, "POST", json={"x": 1}, headers={"Idempotency-Key": "k-1"}).status_code == 200
    assert hangup.requests >= 1  # it was met, and the requests still succeeded elsewhere
    assert a.hits == {"GET": 4, "POST": 4}

    # A bare POST that reached the hung-up replica may have run there: 502, never a second run.
    hangup.requests = 0
    statuses = [who(gw, "POST", json={"x": 1}).status_code for _ in range(4)]
    assert statuses.count(502) == hangup.requests >= 1
    assert a.hits["POST"] == 4 + statuses.count(200)


def test_a_replica_not_ready_is_ejected_and_admitted_again(replicas, start_gateway_app):
    a, _, urls = replicas
    gw, app = start_gateway_app({"accounts": urls}, health_interval=0.05, eject_seconds=3600)
    a.ready = False
    # Waiting for the health check to have seen it (a condition, not a timing).
    upstream = app.gateway.rt.proxy.upstreams["accounts"]
    while all(r.admitted(time.monotonic()) for r in upstream.replicas):
        time.sleep(0.05)
    assert {who(gw).json()["replica"] for _ in range(6)} == {"b"}
    a.ready = True
    while not all(r.admitted(time.monotonic()) for r in upstream.replicas):
        time.sleep(0.05)
    assert {who(gw).json()["replica"] for _ in range(6)} == {"a", "b"}


def test_gateway_health_counts_a_service_up_while_one_replica_is(replicas, start_gateway, down_url):
    _, _, urls = replicas
    gw = start_gateway({"accounts": f"{down_url},{urls.split(',')[0]}"})
    r = httpx.get(f"{gw}/healthz")
    assert r.json()["services"]["accounts"] == "up"



def test_a_control_plane_call_to_a_dead_first_replica_goes_to_the_next(replicas, down_url, settings):
    import asyncio

    from gateway.app import new_client
    from gateway.settings import GatewaySettings

    a, _, urls = replicas
    listed = f"{down_url},{urls.split(',')[0]}"

    async def call() -> httpx.Response:
        async with new_client(GatewaySettings(), {"accounts": listed}) as client:
            return await client.get(f"{down_url}/api/v1/accounts/who")

    r = asyncio.run(call())
    assert r.status_code == 200 and r.json()["replica"] == "a"
    assert a.hits == {"GET": 1}


class DiesOnSecond:
    """A replica that answers the first request of a connection (kept alive), reads the second one,
    then dies: the connection closes without a byte of an answer and nothing listens any more.
    Whether the second request ran there is unknowable."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.second: bytes = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            body = b'{"replica": "dying"}'
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            while b"\r\n\r\n" not in self.second:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                self.second += chunk
            self.sock.close()  # dies: its connections go, and so does its port


@pytest.mark.parametrize(("method", "headers", "moves"), [
    ("GET", [], True),
    ("POST", [(b"idempotency-key", b"k-9")], True),
    ("POST", [], False),
])
def test_a_replica_dying_with_the_request_on_a_kept_alive_connection(replicas, method, headers, moves):
    """The request went out on a connection kept alive from an earlier answer, and the replica died
    before answering: a bare POST is not sent anywhere again (not even on a new connection to the
    same address, whose refusal would have looked like 'nothing sent'); GET and keyed writes move."""
    import asyncio

    from gateway.balancer import Replica as Upstream_Replica
    from gateway.balancer import Upstream
    from gateway.proxy import host_port
    from gateway.upstream import ConnectionBroken, Pool, Timeouts

    live_app, _, urls = replicas
    dying = DiesOnSecond()

    def pool(url: str) -> Pool:
        host, port = host_port(url)
        return Pool(host, port, asyncio.Semaphore(10), 10, 60.0, Timeouts(2.0, 10.0, 10.0, 5.0))

    async def scenario() -> str | None:
        first, live = Upstream_Replica(dying.url, pool(dying.url)), Upstream_Replica(urls.split(",")[0],
                                                                                     pool(urls.split(",")[0]))
        up = Upstream("accounts", [first, live], eject_seconds=0)
        live.outstanding = 1  # steers both requests to the dying replica first
        r, conn = await up.send("GET", b"/api/v1/accounts/who", [], None)
        assert r is first and conn.take_body() == b'{"replica": "dying"}'
        r.pool.release(conn)  # kept alive
        up.done(r)
        body = b"{}" if method == "POST" else None
        try:
            r, conn = await up.send(method, b"/api/v1/accounts/who", headers, body)
        except ConnectionBroken:
            return None
        answered = conn.take_body().decode()
        r.pool.release(conn)
        return answered

    answered = asyncio.run(scenario())
    assert dying.second.startswith(method.encode())  # it reached the replica that died
    if moves:
        assert answered is not None and '"a"' in answered
        assert live_app.hits == {method: 1}
    else:
        assert answered is None  # 502 at the gateway
        assert live_app.hits == {}  # never run a second time
