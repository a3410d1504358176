"""A malformed request to any service through the gateway answers problem+json with a request id,
never a 500: whether the gateway refuses it or the service does."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from shared.topology import ROUTED
from tests.conftest import bearer

# Paths that clients such as httpx would normalise away, so they are sent byte for byte.
MALFORMED_PATHS = [
    b"/%zz",  # broken percent-escape
    b"/a%2",  # truncated escape
    b"/..%2f..%2fauth/x",  # encoded slash
    b"/..%5cauth",  # encoded backslash
    b"/../accounts/x",  # dot segment
    b"/%2e%2e/accounts/x",  # encoded dot segment
    b"/./x",
    b"/%ff%fe",  # not UTF-8
    b"/a%00b",  # NUL
    b"/a%0d%0aSet-Cookie:%20x",  # encoded CRLF
    "/あ".encode(),  # raw non-ASCII: refused by the HTTP parser itself, see gateway/server.py
    b"/a\\b",  # raw backslash
]


def raw_request(base_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; return status, headers (lower-cased) and body."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            if not part:
                break
            data += part
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            part = sock.recv(65536)
            if not part:
                break
            body += part
    return status, headers, body


def assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict:
    assert status == expected, body
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == expected
    assert problem["request_id"] == headers["x-request-id"]
    return problem


@pytest.mark.parametrize("route", sorted(ROUTED))
def test_malformed_paths_are_400_problems_for_every_service(route, start_gateway, echo):
    _, echo_url = echo
    gw = start_gateway(dict.fromkeys((i.name for i in ROUTED.values()), echo_url))
    for suffix in MALFORMED_PATHS:
        path = f"/api/v1/{route}".encode() + suffix
        status, headers, body = raw_request(gw, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert_problem(status, headers, body, 400)

    # The same request, well formed, does reach the service: the refusals above are the gateway's.
    status, _, _ = raw_request(gw, f"GET /api/v1/{route}/echo HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 200


def test_oversize_headers_and_trace_are_refused_with_problems(start_gateway, echo):
    _, echo_url = echo
    gw = start_gateway({"accounts": echo_url}, max_header_bytes=8192)
    status, headers, body = raw_request(
        gw, b"GET /api/v1/accounts/echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n")
    assert_problem(status, headers, body, 431)
    status, headers, body = raw_request(
        gw, b"TRACE /api/v1/accounts/echo HTTP/1.1\r\nHost: x\r\nX-Request-ID: t-1\r\n\r\n")
    assert assert_problem(status, headers, body, 405)["request_id"] == "t-1"


BAD_TENANT_BODIES = [
    ("application/json", b"{not json"),
    ("application/json", b"[]"),
    ("application/json", b'{"code": 1, "name": null}'),
    ("application/json", b'{"code": "x", "name": "n", "kind": "sharoushi", "contract_start": "2026-13-45"}'),
    ("application/json", b"\xff\xfe"),
    ("text/plain", b"code=x"),
    ("application/json", b""),
]


def test_malformed_bodies_to_accounts_pass_through_as_problems(start_gateway, accounts_url, tokens):
    gw = start_gateway({"accounts": accounts_url})
    for i, (ctype, content) in enumerate(BAD_TENANT_BODIES):
        rid = f"bad-body-{i}"
        r = httpx.post(f"{gw}/api/v1/accounts/tenants", content=content,
                       headers={"Content-Type": ctype, "X-Request-ID": rid, **bearer(tokens.operator())})
        assert 400 <= r.status_code < 500, (content, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        # The id the gateway forwarded is the one the service put in its problem.
        assert r.json()["request_id"] == rid == r.headers["x-request-id"]


def test_accounts_round_trip_through_the_gateway(start_gateway, accounts_url, tokens):
    gw = start_gateway({"accounts": accounts_url})
    tenant = {"code": "gw-1", "name": "ゲートウェイ事務所", "kind": "sharoushi", "contract_start": "2026-04-01"}
    r = httpx.post(f"{gw}/api/v1/accounts/tenants", headers=bearer(tokens.operator()), json=tenant)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    r = httpx.get(f"{gw}/api/v1/accounts/tenants/{tid}", headers=bearer(tokens.operator()))
    assert r.status_code == 200 and r.json()["id"] == tid and r.headers["etag"]
    # Unauthenticated: the service's 401 problem and its WWW-Authenticate come through unchanged.
    r = httpx.get(f"{gw}/api/v1/accounts/tenants/{tid}")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["request_id"] == r.headers["x-request-id"]
