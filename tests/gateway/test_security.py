"""Gateway security: token check, rate limits, allowlists, request limits, headers, refusal events."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
import redis

from shared.event_schemas import EventSchemas
from shared.keys import generate_key, load_public_keys
from shared.nats_auth import ADMIN
from shared.nats_client import NatsAccess
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER, TokenSigner
from tests.conftest import bearer
from tests.gateway.support import OWN_CSP, header_values
from tests.gateway.test_errors import raw_request
from tests.support.nats_server import free_port

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"


def assert_refusal(r: httpx.Response, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/" + slug)
    assert any("\u3040" <= ch <= "\u9fff" for ch in body["title"]), body["title"]  # Japanese
    assert body["request_id"] == r.headers["x-request-id"]
    return body


# -- token check ---------------------------------------------------------------------------------

def test_bad_tokens_are_refused_before_any_service(start_gateway, contract, tokens, settings):
    app, echo_url = contract
    gw = start_gateway({"accounts": echo_url})
    good = tokens.user("t-1")
    assert httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(good)).status_code == 200
    signer = TokenSigner(settings.keys_dir, "access")
    base = {"sub": "u-1", "tid": "t-1", "typ": "access", "kind": "user", "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}
    bad = [
        "not-a-jwt",
        signer.sign({**base, "aud": "elsewhere"}, 300),  # audience
        signer.sign({**base, "iss": "someone"}, 300),  # issuer
        signer.sign(base, -60),  # expired
        signer.sign({**base, "typ": "refresh"}, 300),  # not an access token
        tokens.service("auth", "accounts"),  # an internal key: never valid from outside
        jwt.encode(base | {"exp": 2**31}, "secret", algorithm="HS256", headers={"kid": signer.key.kid}),  # alg
        jwt.encode(base | {"exp": 2**31}, None, algorithm="none"),
    ]
    before = app.received
    for token in bad:
        r = httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(token))
        assert_refusal(r, 401, "unauthenticated")
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert app.received == before
    # The token the service gets is the client's own, for it to verify again.
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(good))
    assert header_values(r.json(), "authorization") == [f"Bearer {good}"]


def test_jwks_over_http_refreshes_on_an_unknown_kid(start_gateway, contract, settings, tmp_path):
    app, url = contract
    keys_dir = tmp_path / "keys"
    first = generate_key(keys_dir, "access")

    def publish() -> None:
        data = json.loads((keys_dir / "jwks.json").read_text())
        app.jwks = {"keys": [{k: v for k, v in key.items() if k != "roumu_use"} for key in data["keys"]]}

    publish()
    gw = start_gateway({"accounts": url, "auth": url}, jwks_source="http", jwks_min_refresh_seconds=0)

    def token(signer_key) -> str:
        return jwt.encode({"sub": "u", "typ": "access", "kind": "user", "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER,
                           "iat": 1, "exp": 2**31}, signer_key.private, algorithm="EdDSA",
                          headers={"kid": signer_key.kid})

    assert httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(token(first))).status_code == 200
    # A key added at auth after the gateway cached the set: its kid is unknown, so the set is read again.
    second = generate_key(keys_dir, "access")
    publish()
    assert second.kid in load_public_keys(keys_dir)
    assert httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(token(second))).status_code == 200
    # The file's keys are not the gateway's here: a token signed with them is unknown.
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(TokenSigner(settings.keys_dir, "access").sign(
        {"sub": "u", "typ": "access", "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, 60)))
    assert r.status_code == 401


# -- rate limits ---------------------------------------------------------------------------------

def test_limits_hit_exactly_at_the_configured_count(start_gateway, contract, tokens):
    _, echo_url = contract
    gw = start_gateway({"accounts": echo_url}, rate_limit_ip="7/minute", rate_limit_user="4/minute",
                       rate_limit_tenant="1000/minute")
    alice, bob = tokens.user("t-1", "alice"), tokens.user("t-1", "bob")
    for _ in range(4):
        assert httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(alice)).status_code == 200
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(alice))
    body = assert_refusal(r, 429, "rate-limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert r.headers["ratelimit-policy"] == '"user";q=4;w=60'
    assert r.headers["ratelimit"] == f'"user";r=0;t={r.headers["retry-after"]}'
    assert body["status"] == 429
    # Bob has his own user counter; the address counter (7) is shared: 5 used, so 2 more.
    assert httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(bob)).status_code == 200
    assert httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(bob)).status_code == 200
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(bob))
    assert r.status_code == 429 and r.headers["ratelimit-policy"] == '"ip";q=7;w=60'


def test_login_routes_have_their_stricter_limit(start_gateway, contract):
    _, url = contract
    gw = start_gateway({"auth": url, "accounts": url}, rate_limit_login="3/minute", rate_limit_ip="100/minute")
    for _ in range(3):
        assert httpx.post(f"{gw}/api/v1/auth/login", json={"tenant_code": "x"}).status_code == 200
    assert_refusal(httpx.post(f"{gw}/api/v1/auth/login", json={"tenant_code": "x"}), 429, "rate-limited")
    # Other routes still pass from the same address.
    assert httpx.get(f"{gw}/api/v1/auth/echo").status_code == 200


def test_the_token_endpoint_is_limited_per_client_id_not_per_address(start_gateway, contract):
    """Issue #28: one partner serving many offices from one address renews each client's tokens;
    the old per-address login limit refused the 4th client here (login limit 3/minute)."""
    _, url = contract
    gw = start_gateway({"auth": url, "accounts": url}, rate_limit_login="3/minute", rate_limit_token="2/minute",
                       rate_limit_ip="100/minute")
    token = f"{gw}/api/v1/auth/oauth/token"
    for n in range(6):  # six clients, one address: each within its own limit
        assert httpx.post(token, data={"grant_type": "client_credentials"},
                          auth=(f"client-{n}", "secret")).status_code == 200
    assert httpx.post(token, data={"grant_type": "client_credentials", "client_id": "client-0",
                                   "client_secret": "secret"}).status_code == 200  # the form's client_id
    refused = httpx.post(token, data={"grant_type": "client_credentials"}, auth=("client-0", "secret"))
    assert_refusal(refused, 429, "rate-limited")
    assert refused.headers["ratelimit-policy"] == '"token";q=2;w=60'
    assert httpx.post(token, data={"grant_type": "client_credentials"},
                      auth=("client-1", "secret")).status_code == 200


@pytest.fixture
def redis_prefix():
    prefix = f"roumu-gw-test-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def _gateway_process(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT,
                            env={**os.environ, **env, "ROUMU_GATEWAY_PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError("gateway exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        try:
            proc.wait(0.1)
        except subprocess.TimeoutExpired:
            pass
    raise RuntimeError("gateway did not start")


def test_limits_are_shared_across_two_gateway_processes_with_redis(contract, settings, tokens, redis_prefix):
    _, echo_url = contract
    env = {"ROUMU_KEYS_DIR": str(settings.keys_dir), "ROUMU_NATS_URL": settings.nats_url,
           "ROUMU_NATS_STREAM": settings.nats_stream, "ROUMU_ACCOUNTS_URL": echo_url, "ROUMU_LOG_LEVEL": "WARNING",
           "ROUMU_GATEWAY_REDIS_URL": REDIS_URL, "ROUMU_GATEWAY_REDIS_KEY_PREFIX": redis_prefix,
           "ROUMU_GATEWAY_RATE_LIMIT_USER": "6/minute", "ROUMU_GATEWAY_RATE_LIMIT_IP": "1000/minute"}
    ports = [free_port(), free_port()]
    procs = []
    try:
        for port in ports:
            procs.append(_gateway_process(env, port))
        token = bearer(tokens.user("t-shared", f"u-{uuid.uuid4().hex[:6]}"))
        codes = [httpx.get(f"http://127.0.0.1:{ports[i % 2]}/api/v1/accounts/echo", headers=token).status_code
                 for i in range(8)]
        # 6 in all, whichever process took them: 3 each, then both refuse.
        assert codes == [200] * 6 + [429, 429]
        assert redis.Redis.from_url(REDIS_URL).keys(f"{redis_prefix}*")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)


# -- IP allowlists -------------------------------------------------------------------------------

def test_tenant_allowlist_refuses_a_login_from_outside_and_allows_ipv6_inside(start_gateway, contract):
    app, url = contract
    app.add_tenant("t-ip", "ip-office", ["203.0.113.0/24", "2001:db8:1::/48"])
    # The test client is the trusted proxy, so X-Forwarded-For says who the client is.
    gw = start_gateway({"auth": url, "accounts": url}, trusted_proxies=["127.0.0.1/32"])
    login = {"tenant_code": "ip-office", "login_id": "a", "password": "x"}
    r = httpx.post(f"{gw}/api/v1/auth/login", json=login, headers={"X-Forwarded-For": "198.51.100.7"})
    assert_refusal(r, 403, "ip-not-allowed")
    assert "/api/v1/auth/login" not in [c for c in app.calls if c == "/api/v1/auth/login"]
    r = httpx.post(f"{gw}/api/v1/auth/login", json=login, headers={"X-Forwarded-For": "2001:db8:1::42"})
    assert r.status_code == 200, r.text
    assert header_values(r.json(), "x-roumu-client-ip") == ["2001:db8:1::42"]
    r = httpx.post(f"{gw}/api/v1/auth/login", json=login, headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 200
    # Another tenant without a list: anywhere.
    app.add_tenant("t-open", "open-office")
    r = httpx.post(f"{gw}/api/v1/auth/login", json={**login, "tenant_code": "open-office"},
                   headers={"X-Forwarded-For": "198.51.100.7"})
    assert r.status_code == 200


def _padded_login(code: str, size: int) -> bytes:
    body = json.dumps({"tenant_code": code, "login_id": "a", "password": "x"}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_padding_a_login_body_cannot_skip_the_tenant_allowlist(start_gateway, contract):
    """Finding 18.4: a login padded with whitespace past the 64 KiB buffer streamed on unread, so the
    tenant's allowlist, its login limit and its certificate check never saw the tenant code."""
    app, url = contract
    app.add_tenant("t-pad", "pad-office", ["203.0.113.0/24"])
    gw = start_gateway({"auth": url, "accounts": url}, trusted_proxies=["127.0.0.1/32"])
    outside = {"X-Forwarded-For": "198.51.100.7", "Content-Type": "application/json"}
    before = app.calls.count("/api/v1/auth/login")
    r = httpx.post(f"{gw}/api/v1/auth/login", content=_padded_login("pad-office", 600_000), headers=outside)
    assert_refusal(r, 413, "payload-too-large")
    # Chunked (no length): cut off at the small limit, never streamed on.
    r = httpx.post(f"{gw}/api/v1/auth/login", headers=outside,
                   content=iter([_padded_login("pad-office", 600_000)[i:i + 4096] for i in range(0, 600_000, 4096)]))
    assert_refusal(r, 413, "payload-too-large")
    # Within the small limit the tenant is read and its allowlist holds, padded or not.
    r = httpx.post(f"{gw}/api/v1/auth/login", content=_padded_login("pad-office", 3000), headers=outside)
    assert_refusal(r, 403, "ip-not-allowed")
    assert app.calls.count("/api/v1/auth/login") == before  # auth never saw any of them
    r = httpx.post(f"{gw}/api/v1/auth/login", content=_padded_login("pad-office", 3000),
                   headers={**outside, "X-Forwarded-For": "203.0.113.5"})
    assert r.status_code == 200


def test_refresh_names_its_tenant_and_is_refused_outside_the_allowlist(start_gateway, contract):
    """Finding 18.4: /token/refresh gave fresh tokens from outside the tenant's allowlist."""
    app, url = contract
    app.add_tenant("t-rf", "rf-office", ["203.0.113.0/24"])
    gw = start_gateway({"auth": url, "accounts": url}, trusted_proxies=["127.0.0.1/32"])
    refresh = f"{gw}/api/v1/auth/token/refresh"
    outside, inside = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "203.0.113.5"}
    r = httpx.post(refresh, json={"refresh_token": "r-1", "tenant_code": "rf-office"}, headers=outside)
    assert_refusal(r, 403, "ip-not-allowed")
    # A made-up tenant has no sessions to refresh.
    r = httpx.post(refresh, json={"refresh_token": "r-1", "tenant_code": "nobody"}, headers=outside)
    assert r.status_code == 401
    # Too large for a refresh: 413 before auth sees a byte.
    r = httpx.post(refresh, json={"refresh_token": "r" * 20000, "tenant_code": "rf-office"}, headers=inside)
    assert_refusal(r, 413, "payload-too-large")
    assert "/api/v1/auth/token/refresh" not in app.calls
    # Inside: forwarded as sent; auth checks that the code is the session's own (tests/auth).
    sent = {"refresh_token": "r-1", "tenant_code": "rf-office"}
    r = httpx.post(refresh, json=sent, headers=inside)
    assert r.status_code == 200, r.text
    assert r.json()["body_length"] == len(httpx.Request("POST", refresh, json=sent).content)
    # Without a tenant code (the console's cookie refresh) the gateway cannot tell the tenant: the
    # refresh goes to auth, which judges the allowlist of the token's own session
    # (tests/auth/test_allowlist.py::test_login_and_refresh_from_outside_the_allowlist_are_refused_by_auth).
    r = httpx.post(refresh, json={"refresh_token": "r-1"}, headers=outside)
    assert r.status_code == 200 and app.calls.count("/api/v1/auth/token/refresh") == 2


def test_login_steps_are_held_to_the_challenges_tenant(start_gateway, contract):
    """The later login steps issue tokens too: the challenge's tenant is checked like the login's."""
    app, url = contract
    app.add_tenant("t-ch", "ch-office", ["203.0.113.0/24"])
    gw = start_gateway({"auth": url, "accounts": url}, trusted_proxies=["127.0.0.1/32"])
    challenge = jwt.encode({"tid": "t-ch", "typ": "login_challenge"}, "k" * 32, algorithm="HS256")
    for step in ("login/totp", "login/password"):
        r = httpx.post(f"{gw}/api/v1/auth/{step}", json={"challenge": challenge, "code": "123456"},
                       headers={"X-Forwarded-For": "198.51.100.7"})
        assert_refusal(r, 403, "ip-not-allowed")
        r = httpx.post(f"{gw}/api/v1/auth/{step}", json={"challenge": challenge, "code": "123456"},
                       headers={"X-Forwarded-For": "203.0.113.5"})
        assert r.status_code == 200


def test_tenant_allowlist_applies_to_every_request_of_the_tenant(start_gateway, contract, tokens):
    app, url = contract
    app.add_tenant("t-tok", "tok-office", ["10.9.0.0/16"])
    gw = start_gateway({"accounts": url})
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(tokens.user("t-tok")))
    assert_refusal(r, 403, "ip-not-allowed")
    app.add_tenant("t-tok", "tok-office", ["127.0.0.0/8"])
    gw2 = start_gateway({"accounts": url})
    assert httpx.get(f"{gw2}/api/v1/accounts/echo", headers=bearer(tokens.user("t-tok"))).status_code == 200


def test_spoofed_forwarded_for_is_ignored_from_untrusted_peers(start_gateway, contract, tokens):
    app, url = contract
    app.add_tenant("t-sp", "sp-office", ["203.0.113.0/24"])
    gw = start_gateway({"auth": url, "accounts": url}, admin_allowlist=["203.0.113.0/24"])
    spoof = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9", "Forwarded": "for=203.0.113.9"}
    r = httpx.post(f"{gw}/api/v1/auth/login", json={"tenant_code": "sp-office"}, headers=spoof)
    assert_refusal(r, 403, "ip-not-allowed")
    # The global allowlist guards operators and /metrics the same way.
    assert_refusal(httpx.get(f"{gw}/api/v1/accounts/echo", headers={**spoof, **bearer(tokens.operator())}),
                   403, "ip-not-allowed")
    assert_refusal(httpx.get(f"{gw}/metrics", headers=spoof), 403, "ip-not-allowed")
    # A plain user of a tenant without a list is not an operator: allowed.
    assert httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(tokens.user("t-none"))).status_code == 200


def test_metrics_answer_loopback_only_unless_opened(start_gateway, contract):
    """/metrics was public whenever ADMIN_ALLOWLIST was empty (the default)."""
    _, url = contract
    # The test client is the trusted proxy, so X-Forwarded-For says who the client is.
    gw = start_gateway({"accounts": url}, trusted_proxies=["127.0.0.1/32"])
    assert_refusal(httpx.get(f"{gw}/metrics", headers={"X-Forwarded-For": "198.51.100.7"}), 403, "ip-not-allowed")
    assert_refusal(httpx.get(f"{gw}/metrics", headers={"X-Forwarded-For": "2001:db8::7"}), 403, "ip-not-allowed")
    assert httpx.get(f"{gw}/metrics").status_code == 200  # from loopback itself
    # Opened to the monitoring network, and only to it.
    gw = start_gateway({"accounts": url}, trusted_proxies=["127.0.0.1/32"], metrics_allowlist=["198.51.100.0/24"])
    r = httpx.get(f"{gw}/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert r.status_code == 200 and "roumu_http_requests_total" in r.text
    assert_refusal(httpx.get(f"{gw}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}), 403, "ip-not-allowed")


# -- request limits ------------------------------------------------------------------------------

def test_upload_over_100_mb_is_refused_before_its_body_is_read(start_gateway, echo):
    app, echo_url = echo
    gw = start_gateway({"files": echo_url})
    limit = 100 * 1024 * 1024 + 64 * 1024  # 100 MiB of file plus the multipart overhead allowed
    head = (f"POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {limit + 1}\r\n\r\n").encode()
    # Only the head is sent: the answer comes without a byte of the body, so none was held.
    status, _headers, body = raw_request(gw, head)
    assert status == 413 and json.loads(body)["type"].endswith("/payload-too-large")
    assert app.received == 0


def test_chunked_body_is_cut_off_while_streaming_at_the_limit(start_gateway, echo, contract, tokens):
    app, echo_url = echo
    app.progress_at = 1
    limit = 1 << 20
    gw = start_gateway({"files": echo_url, "accounts": contract[1]}, max_upload_bytes=limit,
                       multipart_overhead_bytes=0, buffer_body_bytes=64 * 1024)
    host, port = gw.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        # With a token: only authenticated bodies stream (an anonymous one is read whole first).
        sock.sendall(b"POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                     b"Authorization: Bearer " + tokens.user("t-up").encode() + b"\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        piece = b"z" * 65536
        for _ in range(limit // len(piece)):
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
        assert app.progress.wait(30)  # streamed on: the upstream had bytes before the body was done
        sock.sendall(b"1\r\nz\r\n")  # one byte over
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            if not part:
                break
            data += part
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert app.received <= limit


def test_json_size_and_media_types(start_gateway, echo):
    _, echo_url = echo
    gw = start_gateway({"accounts": echo_url, "files": echo_url, "auth": echo_url}, max_body_bytes=1000)
    assert httpx.post(f"{gw}/api/v1/accounts/echo", json={"a": "x" * 900}).status_code == 200
    assert_refusal(httpx.post(f"{gw}/api/v1/accounts/echo", json={"a": "x" * 1000}), 413, "payload-too-large")
    assert_refusal(httpx.post(f"{gw}/api/v1/accounts/echo", content=b"a=1",
                              headers={"Content-Type": "text/plain"}), 415, "unsupported-media-type")
    # Uploads only where uploads go; form posts only to the OAuth token endpoint.
    assert_refusal(httpx.post(f"{gw}/api/v1/accounts/echo", content=b"x",
                              headers={"Content-Type": "application/octet-stream"}), 415, "unsupported-media-type")
    assert httpx.post(f"{gw}/api/v1/auth/oauth/token", data={"grant_type": "client_credentials"}).status_code == 200
    assert httpx.post(f"{gw}/api/v1/files/upload", files={"f": ("a.pdf", b"%PDF-1.7")}).status_code == 200
    assert httpx.post(f"{gw}/api/v1/accounts/echo", json={"a": 1},
                      headers={"Content-Type": "application/merge-patch+json"}).status_code == 200


def test_oversized_and_slow_heads_are_cut_off(start_gateway, echo):
    _, echo_url = echo
    gw = start_gateway({"accounts": echo_url}, max_header_bytes=4096, header_timeout=0.5)
    status, headers, _body = raw_request(
        gw, b"GET /api/v1/accounts/echo HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n")
    assert status == 431 and headers["content-type"] == "application/problem+json"
    host, port = gw.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"GET /api/v1/accounts/echo HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 408")


# -- headers on every response, CORS ----------------------------------------------------------------

def test_security_headers_on_every_response_and_cors_for_the_spa_only(start_gateway, echo):
    _, echo_url = echo
    spa = "https://app.roumu.example"
    gw = start_gateway({"accounts": echo_url}, cors_origin=spa)
    for r in (httpx.get(f"{gw}/api/v1/accounts/echo", headers={"Origin": spa}),
              httpx.get(f"{gw}/api/v1/nope", headers={"Origin": spa}),
              httpx.get(f"{gw}/readyz", headers={"Origin": spa})):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["access-control-allow-origin"] == spa
    r = httpx.options(f"{gw}/api/v1/accounts/echo",
                      headers={"Origin": spa, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204 and "POST" in r.headers["access-control-allow-methods"]
    r = httpx.options(f"{gw}/api/v1/accounts/echo",
                      headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    r = httpx.get(f"{gw}/api/v1/accounts/echo", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_a_services_own_security_header_is_kept(start_gateway, echo):
    """Finding 18.10: the files service's download CSP carries `sandbox`; the gateway used to replace
    it with its API default, so a stored HTML or SVG would run unsandboxed when opened directly."""
    _, echo_url = echo
    gw = start_gateway({"files": echo_url})
    r = httpx.get(f"{gw}/api/v1/files/x/own-headers")
    assert r.status_code == 200
    assert r.headers.get_list("content-security-policy") == [OWN_CSP.decode()]
    # Where the service set none, the gateway's defaults are still added.
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    r = httpx.get(f"{gw}/api/v1/files/x/echo")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


# -- refusal events -------------------------------------------------------------------------------

async def _refusal_events(nats: NatsAccess, stream: str, request_ids: set[str]) -> list[dict]:
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    from shared.nats_client import connect

    nc = await connect(nats, "test-refusals", max_reconnect_attempts=0)
    found: list[dict] = []
    try:
        js = nc.jetstream()
        for _ in range(100):
            sub = await js.pull_subscribe("roumu.gateway.request.refused", stream=stream, config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=10.0))
            found = []
            try:
                while True:
                    msgs = await sub.fetch(200, timeout=0.5)
                    found += [json.loads(m.data) for m in msgs]
            except Exception:
                pass
            finally:
                await sub.unsubscribe()
            if request_ids <= {e["subject"]["request_id"] for e in found}:
                break
            await asyncio.sleep(0.1)
    finally:
        await nc.close()
    return [e for e in found if e["subject"]["request_id"] in request_ids]


def test_refusals_are_published_as_events_matching_their_schema(start_gateway, contract, settings, tokens):
    _, echo_url = contract
    gw = start_gateway({"accounts": echo_url}, rate_limit_user="1/minute", max_body_bytes=10)
    user = bearer(tokens.user("t-ev", "u-ev"))
    rid = uuid.uuid4().hex
    assert httpx.get(f"{gw}/api/v1/accounts/echo", headers=user).status_code == 200
    assert httpx.get(f"{gw}/api/v1/accounts/echo", headers={**user, "X-Request-ID": rid + "-1"}).status_code == 429
    assert httpx.post(f"{gw}/api/v1/accounts/echo", content=b"x", headers={
        "X-Request-ID": rid + "-2", "Content-Type": "text/plain"}).status_code == 415
    events = asyncio.run(_refusal_events(settings.nats_access(ADMIN), settings.nats_stream, {rid + "-1", rid + "-2"}))
    by_id = {e["subject"]["request_id"]: e for e in events}
    assert by_id[rid + "-1"]["data"] == {"reason": "rate_limited", "route": "/api/v1/accounts/{path}", "status": 429}
    assert by_id[rid + "-1"]["tenant_id"] == "t-ev"
    assert by_id[rid + "-1"]["actor"] == {"kind": "user", "id": "u-ev", "ip": "127.0.0.1"}
    assert by_id[rid + "-2"]["data"]["reason"] == "unsupported_media_type"
    schemas = EventSchemas()
    for event in events:
        assert schemas.errors(event) == []
