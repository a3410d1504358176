"""Routing, streaming and header handling, against a real echo upstream."""

from __future__ import annotations

import threading

import httpx

from shared.topology import ROUTED
from tests.conftest import bearer
from tests.gateway.support import header_values


def test_routes_by_prefix_and_keeps_path_and_query(echo, start_gateway):
    _, echo_url = echo
    gw = start_gateway({"koyo_hoken": echo_url})
    raw = "/api/v1/koyo-hoken/echo/a%20b/%E3%81%82;v=1?x=1&y=%E3%81%82&y=2&z=a+b"
    r = httpx.get(gw + raw)
    assert r.status_code == 200
    echoed = r.json()
    assert echoed["raw_path"] == "/api/v1/koyo-hoken/echo/a%20b/%E3%81%82;v=1"
    assert echoed["query"] == "x=1&y=%E3%81%82&y=2&z=a+b"
    assert echoed["method"] == "GET"
    # A GET carries no body, so it must not go upstream as chunked.
    assert header_values(echoed, "transfer-encoding") == []


def test_each_route_reaches_its_own_service(start_gateway, echo):
    _, echo_url = echo
    for route, info in ROUTED.items():
        gw = start_gateway({info.name: echo_url})
        assert httpx.get(f"{gw}/api/v1/{route}/echo").status_code == 200
        other = next(r for r in ROUTED if r != route)
        assert httpx.get(f"{gw}/api/v1/{other}/echo").status_code == 502


def test_request_id_is_forwarded_and_echoed(echo, start_gateway):
    _, echo_url = echo
    gw = start_gateway({"accounts": echo_url})
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers={"X-Request-ID": "req-abc.123"})
    assert r.headers["x-request-id"] == "req-abc.123"
    assert header_values(r.json(), "x-request-id") == ["req-abc.123"]
    # No id, or one unfit for logs: the gateway makes one, sends it upstream and back.
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers={"X-Request-ID": "bad id\twith tab"})
    rid = r.headers["x-request-id"]
    assert rid != "bad id\twith tab" and header_values(r.json(), "x-request-id") == [rid]


def test_hop_by_hop_headers_are_stripped_both_ways(echo, start_gateway):
    _, echo_url = echo
    gw = start_gateway({"accounts": echo_url})
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers={
        "Connection": "keep-alive, X-Custom-Hop", "X-Custom-Hop": "1", "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic c2VjcmV0", "TE": "trailers", "Upgrade": "h2c", "X-Kept": "yes",
    })
    names = {k for k, _ in r.json()["headers"]}
    for hop in ("x-custom-hop", "keep-alive", "proxy-authorization", "te", "upgrade"):
        assert hop not in names, hop
    assert header_values(r.json(), "x-kept") == ["yes"]
    # The upstream's own Connection is about its hop; whatever the gateway's server says is its own.
    assert all("keep-alive" == v or "close" == v for v in header_values(r.json(), "connection"))

    r = httpx.get(f"{gw}/api/v1/accounts/hop")
    assert r.text == "ok"
    assert "x-resp-hop" not in r.headers and "proxy-authenticate" not in r.headers and "trailer" not in r.headers
    assert r.headers["x-kept"] == "yes"


def test_spoofed_internal_headers_are_stripped_and_client_ip_set(echo, start_gateway):
    _, echo_url = echo
    gw = start_gateway({"accounts": echo_url})
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers={
        "X-Roumu-Client-IP": "6.6.6.6", "X-Roumu-Anything": "spoof", "X-Forwarded-For": "1.2.3.4",
        "X-Forwarded-Proto": "https", "Forwarded": "for=1.2.3.4", "X-Real-IP": "1.2.3.4",
    })
    echoed = r.json()
    assert header_values(echoed, "x-roumu-client-ip") == ["127.0.0.1"]
    assert header_values(echoed, "x-roumu-anything") == []
    # Not from a trusted proxy: the client's own X-Forwarded-* are not believed, only replaced.
    assert header_values(echoed, "x-forwarded-for") == ["127.0.0.1"]
    assert header_values(echoed, "x-forwarded-proto") == ["http"]
    assert header_values(echoed, "forwarded") == [] and header_values(echoed, "x-real-ip") == []


def test_forwarded_for_is_read_only_from_trusted_proxies(echo, start_gateway):
    _, echo_url = echo
    # Loopback (the test client) is the trusted proxy; 10/8 is an inner proxy trusted as well.
    gw = start_gateway({"accounts": echo_url}, trusted_proxies=["127.0.0.0/8", "10.0.0.0/8"])
    r = httpx.get(f"{gw}/api/v1/accounts/echo",
                  headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.1.2.3", "X-Forwarded-Proto": "https"})
    echoed = r.json()
    # The rightmost untrusted entry is the client; 6.6.6.6 was written by that client, so ignored.
    assert header_values(echoed, "x-roumu-client-ip") == ["203.0.113.7"]
    assert header_values(echoed, "x-forwarded-for") == ["6.6.6.6, 203.0.113.7, 10.1.2.3, 127.0.0.1"]
    assert header_values(echoed, "x-forwarded-proto") == ["https"]

    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers={"X-Forwarded-For": "not-an-ip, 10.1.2.3"})
    assert header_values(r.json(), "x-roumu-client-ip") == ["10.1.2.3"]

    # Only 10/8 trusted: loopback (the real peer) is then the client whatever it claims.
    gw2 = start_gateway({"accounts": echo_url}, trusted_proxies=["10.0.0.0/8"])
    r = httpx.get(f"{gw2}/api/v1/accounts/echo", headers={"X-Forwarded-For": "203.0.113.7"})
    assert header_values(r.json(), "x-roumu-client-ip") == ["127.0.0.1"]
    assert header_values(r.json(), "x-forwarded-for") == ["127.0.0.1"]


def test_large_upload_streams_through_while_the_client_is_still_sending(echo, contract, start_gateway, tokens):
    """50 MB: after 20 MB the client pauses until the upstream has seen 1 MB. A gateway that read
    the whole body before forwarding would deliver nothing yet, and the guard would trip. (With a
    token: a body without one is read whole before any service is asked, see test_exhaustion.)"""
    app, echo_url = echo
    gw = start_gateway({"files": echo_url, "accounts": contract[1]})
    chunk = b"x" * (1 << 20)
    total_mb = 50
    upstream_saw_bytes_early = threading.Event()

    def body():
        for i in range(total_mb):
            if i == 20 and app.progress.wait(60):
                upstream_saw_bytes_early.set()
            yield chunk

    r = httpx.post(f"{gw}/api/v1/files/upload", content=body(),
                   headers={"Content-Length": str(total_mb << 20), "Content-Type": "application/octet-stream",
                            **bearer(tokens.user("t-up"))},
                   timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["received"] == total_mb << 20
    assert upstream_saw_bytes_early.is_set()
    assert r.json()["chunks"] > 1


def test_chunked_upload_without_length_is_forwarded(echo, start_gateway):
    _, echo_url = echo
    gw = start_gateway({"files": echo_url})
    r = httpx.post(f"{gw}/api/v1/files/upload", content=iter([b"a" * 1000, b"b" * 2000]),
                   headers={"Content-Type": "application/octet-stream"})
    assert r.json()["received"] == 3000


def test_response_streams_before_the_upstream_has_finished(echo, start_gateway):
    """The upstream sends 64 KiB, then holds the rest until the client has read the first part."""
    app, echo_url = echo
    gw = start_gateway({"files": echo_url})
    with httpx.stream("GET", f"{gw}/api/v1/files/download", timeout=120) as r:
        parts = r.iter_raw()
        first = b""
        while len(first) < 65536:
            first += next(parts)
        app.release.set()
        rest = b"".join(parts)
    assert first[:65536] == b"a" * 65536
    assert (first + rest)[65536:] == b"b" * 65536
    assert not app.stalled_out


def test_unknown_service_is_404_problem(start_gateway):
    gw = start_gateway()
    # GET / is the console's (tests/gateway/test_console.py); any other method there has no service.
    for method, path in [("GET", "/api/v1/nope/x"), ("GET", "/api/v1/egov-sandbox/x"),
                         ("GET", "/api/v1/egov_sandbox/x"), ("POST", "/"), ("GET", "/api/v2/accounts/x")]:
        r = httpx.request(method, gw + path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["request_id"] == r.headers["x-request-id"]


def test_service_down_is_502_problem(start_gateway):
    gw = start_gateway()
    for route in ROUTED:
        r = httpx.post(f"{gw}/api/v1/{route}/x", json={"a": 1}, headers={"X-Request-ID": f"down-{route}"})
        assert r.status_code == 502
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["type"].endswith("/bad-gateway") and body["request_id"] == f"down-{route}"


def test_slow_service_is_504_problem(echo, start_gateway):
    app, echo_url = echo
    gw = start_gateway({"accounts": echo_url}, read_timeout=0.5)
    r = httpx.get(f"{gw}/api/v1/accounts/slow", timeout=30)
    app.release.set()
    assert r.status_code == 504
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/gateway-timeout") and r.json()["request_id"] == r.headers["x-request-id"]
