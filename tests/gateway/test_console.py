"""The gateway serves the built console at "/": index.html never cached, hashed assets immutable,
client routes answered with index.html, the page's strict CSP, and the API left alone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

INDEX = b'<!doctype html><html lang="ja"><script type="module" src="/assets/index-AbC123.js"></script></html>'


@pytest.fixture
def console_dir(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(INDEX)
    (tmp_path / "assets" / "index-AbC123.js").write_bytes(b"console.log(1)")
    (tmp_path / "assets" / "index-AbC123.css").write_bytes(b"body{}")
    (tmp_path / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    (tmp_path.parent / "secret.txt").write_bytes(b"outside")
    return tmp_path


def test_index_is_never_cached_and_client_routes_get_it(start_gateway, console_dir):
    gw = start_gateway(console_dir=str(console_dir))
    for path in ("/", "/index.html", "/login", "/logs/operations", "/account/"):
        r = httpx.get(gw + path)
        assert r.status_code == 200, path
        assert r.content == INDEX
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["cache-control"] == "no-store"


def test_hashed_assets_are_immutable_and_a_missing_one_is_404(start_gateway, console_dir):
    gw = start_gateway(console_dir=str(console_dir))
    r = httpx.get(gw + "/assets/index-AbC123.js")
    assert r.status_code == 200 and r.content == b"console.log(1)"
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert httpx.get(gw + "/assets/index-AbC123.css").headers["content-type"].startswith("text/css")
    missing = httpx.get(gw + "/assets/index-gone.js")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    fav = httpx.get(gw + "/favicon.ico")
    assert fav.status_code == 200 and fav.headers["cache-control"] == "no-cache"


def test_the_page_csp_is_strict(start_gateway, console_dir):
    gw = start_gateway(console_dir=str(console_dir))
    r = httpx.get(gw + "/")
    [csp] = r.headers.get_list("content-security-policy")
    policy = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";"))}
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    # The API keeps its own, stricter policy.
    api = httpx.get(gw + "/api/v1/nope/x")
    assert api.headers["content-security-policy"].startswith("default-src 'none'; frame-ancestors")


def test_nothing_outside_the_build_and_the_api_stays_the_apis(start_gateway, console_dir):
    gw = start_gateway(console_dir=str(console_dir))
    for path in ("/assets/..%2fsecret.txt", "/assets/%2e%2e/secret.txt", "/..%2fsecret.txt", "/assets/.hidden"):
        r = httpx.get(gw + path)
        assert r.status_code in (400, 404), path
        assert b"outside" not in r.content
    # /assets/../x normalised by the client is just a client route: the page, not the file.
    assert httpx.get(gw + "/secret.txt").content == INDEX
    for path in ("/api/v1/nope/x", "/api/v2/x", "/api"):
        assert httpx.get(gw + path).status_code == 404, path
    assert httpx.post(gw + "/login").status_code == 404  # only GET and HEAD reach the console


def test_not_built_says_so(start_gateway, tmp_path):
    gw = start_gateway(console_dir=str(tmp_path / "none"))
    r = httpx.get(gw + "/")
    assert r.status_code == 404 and "ビルド" in r.json()["detail"]
