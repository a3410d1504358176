"""Slow clients and greedy sources cannot take the gateway's upstream connections from everyone else.

Finding 18.3: ~200 anonymous connections, each announcing a 900 kB body and then trickling a byte
every 12 s, held every slot of the one global upstream semaphore, and every authenticated request
got 503 until they closed. The attack is replayed here scaled down (a few slots, short deadlines,
bounded in count and time, loopback only)."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx

from tests.conftest import bearer

ATTACKERS = 24
ANNOUNCED = 900_000
FIRST = 70_000  # past the 64 KiB the gateway reads before it opens the upstream stream


def _address(base_url: str) -> tuple[str, int]:
    url = urlsplit(base_url)
    assert url.hostname == "127.0.0.1" and url.port is not None
    return url.hostname, url.port


class Trickler(threading.Thread):
    """One slow client: the head, a first burst, then a byte every `every` seconds until answered or stopped."""

    def __init__(self, address: tuple[str, int], path: str, stop: threading.Event, every: float = 0.2,
                 headers: bytes = b"", first: int = FIRST) -> None:
        super().__init__(daemon=True)
        self.address, self.path, self.stop, self.every, self.headers = address, path, stop, every, headers
        self.first = first
        self.answer: bytes | None = None
        self.answered_after: float | None = None

    def run(self) -> None:
        started = time.monotonic()
        with socket.create_connection(self.address, timeout=10) as sock:
            sock.sendall(f"POST {self.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {ANNOUNCED}\r\n".encode() + self.headers + b"\r\n" + b" " * self.first)
            sock.setblocking(False)
            while not self.stop.is_set():
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    data = None
                except OSError:
                    data = b""
                if data is not None:
                    self.answer = data.split(b"\r\n", 1)[0]
                    self.answered_after = time.monotonic() - started
                    return
                try:
                    sock.send(b" ")
                except OSError:
                    pass  # the gateway closed its side; the answer may still be readable
                self.stop.wait(self.every)


def test_slow_anonymous_bodies_do_not_starve_authenticated_clients(start_gateway, contract, tokens):
    app, echo_url = contract
    gw = start_gateway({"accounts": echo_url}, max_connections=8, pool_timeout=0.3,
                       body_min_rate=4096, body_rate_grace=0.5, body_deadline=2.0,
                       concurrency_anonymous=8, rate_limit_ip="100000/minute")
    stop = threading.Event()
    attackers = [Trickler(_address(gw), "/api/v1/accounts/tenants", stop) for _ in range(ATTACKERS)]
    token = bearer(tokens.user("t-ok", "u-ok"))
    codes: list[int] = []
    try:
        for a in attackers:
            a.start()
        time.sleep(0.5)  # every attacker connected and past its first burst
        with httpx.Client(base_url=gw, headers=token, timeout=10) as client:
            until = time.monotonic() + 3.0
            while time.monotonic() < until:
                codes.append(client.get("/api/v1/accounts/echo").status_code)
                time.sleep(0.05)
    finally:
        stop.set()
        for a in attackers:
            a.join(10)
    assert codes and set(codes) == {200}, codes
    # Each slow body was ended by the gateway within its deadline (408), or refused at once as one
    # anonymous source's connections over its budget (429); none reached a service.
    answers = sorted(a.answer or b"(none)" for a in attackers)
    assert all(a.answer and a.answer.split()[1] in (b"408", b"429") for a in attackers), answers
    assert all(a.answered_after is not None and a.answered_after < 3.0 for a in attackers)
    assert any(a.answer and a.answer.split()[1] == b"429" for a in attackers)
    assert "/api/v1/accounts/tenants" not in app.calls


def test_bodies_have_a_whole_body_deadline_and_a_minimum_rate(start_gateway, contract, tokens):
    """A byte every 0.2 s never tripped the per-read timeout: now the rate and the deadline do."""
    _, url = contract
    gw = start_gateway({"files": url, "accounts": url}, body_min_rate=4096, body_rate_grace=0.5,
                       stream_body_deadline=2.0)
    stop = threading.Event()
    auth = b"Authorization: Bearer " + tokens.user("t-slow").encode() + b"\r\n"
    slow = [
        Trickler(_address(gw), "/api/v1/accounts/echo", stop, first=100),  # anonymous: the rate
        Trickler(_address(gw), "/api/v1/accounts/echo", stop, first=100, headers=auth),  # token: the rate
        Trickler(_address(gw), "/api/v1/files/upload", stop, headers=auth),  # streaming: the deadline
    ]
    try:
        for t in slow:
            t.start()
        for t in slow:
            t.join(8)
    finally:
        stop.set()
    assert [t.answer for t in slow] == [b"HTTP/1.1 408 Request Timeout"] * 3
    assert all(t.answered_after is not None and t.answered_after < 4.0 for t in slow)


def test_an_upstream_answer_ends_a_stalled_upload_at_once(start_gateway, contract, tokens):
    _, url = contract
    gw = start_gateway({"files": url, "accounts": url}, body_timeout=10.0)
    with socket.create_connection(_address(gw), timeout=3) as sock:
        sock.sendall(b"POST /api/v1/files/reject HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                     b"Authorization: Bearer " + tokens.user("t-up").encode() + b"\r\n"
                     b"Content-Length: 900000\r\n\r\n" + b"z" * FIRST)
        started = time.monotonic()
        # ... and nothing more: the service has answered already, so the exchange ends now, not when
        # the client sends its next byte or the body timeout runs out.
        data = sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 401 Unauthorized"), data[:200]
        assert time.monotonic() - started < 2.0
        while part := sock.recv(65536):  # and the connection is closed (the body will never be read)
            data += part
        assert b"connection: close" in data.lower()


def _settled(futures: list[Future[httpx.Response]], count: int) -> list[httpx.Response]:
    """The answers once `count` of them are in (the others stay held upstream), within 20 s."""
    until = time.monotonic() + 20
    while sum(f.done() for f in futures) < count and time.monotonic() < until:
        time.sleep(0.05)
    time.sleep(0.3)  # no more than `count`
    return [f.result() for f in futures if f.done()]


def test_one_slow_service_cannot_take_every_upstream_slot(start_gateway, echo, contract, tokens):
    slow, slow_url = echo
    _, other_url = contract
    gw = start_gateway({"koyo_hoken": slow_url, "accounts": other_url}, max_connections=6,
                       max_connections_per_service=3, pool_timeout=0.3)
    with ThreadPoolExecutor(6) as pool:
        held = [pool.submit(httpx.get, f"{gw}/api/v1/koyo-hoken/slow", headers=bearer(tokens.user(f"t-{i}")),
                            timeout=30) for i in range(6)]
        # The slow service has its three; the rest wait and give up (503), the other service is free.
        assert sorted(r.status_code for r in _settled(held, 3)) == [503, 503, 503]
        r = httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(tokens.user("t-other")), timeout=5)
        assert r.status_code == 200, r.text
        slow.release.set()
        assert sorted(f.result().status_code for f in held) == [200, 200, 200, 503, 503, 503]


def test_one_tenant_cannot_take_every_upstream_slot(start_gateway, contract, tokens):
    slow, url = contract
    gw = start_gateway({"accounts": url}, max_connections=6, pool_timeout=0.3, concurrency_tenant=3)
    with ThreadPoolExecutor(6) as pool:
        held = [pool.submit(httpx.get, f"{gw}/api/v1/accounts/slow", headers=bearer(tokens.user("t-greedy", f"u-{i}")),
                            timeout=30) for i in range(6)]
        refused = _settled(held, 3)
        assert [r.status_code for r in refused] == [429, 429, 429]
        assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
        r = httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(tokens.user("t-modest")), timeout=5)
        assert r.status_code == 200, r.text
        slow.release.set()
        assert sorted(f.result().status_code for f in held) == [200, 200, 200, 429, 429, 429]
