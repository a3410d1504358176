"""Cookie mode for the staff console: the refresh token in an HttpOnly, Secure, SameSite=Strict
cookie scoped to the refresh path, never in the JSON; the cookie is taken only with the custom
header (CSRF); logout and a failed refresh clear it; partner/JSON clients are unchanged."""

from __future__ import annotations

from tests.auth.conftest import API, bearer, strong

REFRESH = f"{API}/token/refresh"
COOKIE = "__Secure-roumu-refresh"
MODE = {"X-Token-Mode": "cookie"}


def set_cookie(response) -> tuple[str, list[str]]:
    """The refresh cookie's value and attributes from a Set-Cookie header (the test client's jar
    would not send a Secure cookie over http://testserver, so it is read and sent by hand)."""
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")]
    first, *attrs = [p.strip() for p in header.split(";")]
    return first.split("=", 1)[1], attrs


def test_login_in_cookie_mode_sets_the_cookie_and_keeps_it_out_of_the_json(tenant):
    pw = strong()
    tenant.add_user("kuki", pw)
    r = tenant.login("kuki", pw, headers=MODE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "authenticated" and body["access_token"] and body["refresh_token"] is None
    value, attrs = set_cookie(r)
    assert value
    assert f"Path={REFRESH}" in attrs
    assert {"Secure", "HttpOnly", "SameSite=Strict"} <= set(attrs)
    assert not any(a.lower().startswith(("max-age", "expires", "domain")) for a in attrs)


def test_refresh_through_the_cookie_rotates_it_and_needs_the_custom_header(tenant):
    pw = strong()
    tenant.add_user("kuki2", pw)
    first, _ = set_cookie(tenant.login("kuki2", pw, headers=MODE))
    tenant.client.cookies.clear()
    # The cookie alone — what a forged cross-site request would carry — is not enough.
    forged = tenant.client.post(REFRESH, json={}, headers={"Cookie": f"{COOKIE}={first}"})
    assert forged.status_code == 401
    r = tenant.client.post(REFRESH, json={}, headers={**MODE, "Cookie": f"{COOKIE}={first}"})
    assert r.status_code == 200, r.text
    assert r.json()["access_token"] and r.json()["refresh_token"] is None
    second, attrs = set_cookie(r)
    assert second != first and "HttpOnly" in attrs
    # The spent cookie again: reuse ends the session, and the answer clears the cookie.
    reuse = tenant.client.post(REFRESH, json={}, headers={**MODE, "Cookie": f"{COOKIE}={first}"})
    assert reuse.status_code == 401
    cleared, attrs = set_cookie(reuse)
    assert cleared == "" and "Max-Age=0" in attrs
    assert tenant.client.post(REFRESH, json={}, headers={**MODE, "Cookie": f"{COOKIE}={second}"}).status_code == 401


def test_logout_in_cookie_mode_clears_the_cookie(tenant):
    pw = strong()
    tenant.add_user("kuki3", pw)
    r = tenant.login("kuki3", pw, headers=MODE)
    cookie, _ = set_cookie(r)
    out = tenant.client.post(f"{API}/logout", headers={**MODE, **bearer(r.json()["access_token"])})
    assert out.status_code == 204
    cleared, attrs = set_cookie(out)
    assert cleared == "" and "Max-Age=0" in attrs and f"Path={REFRESH}" in attrs
    assert tenant.client.post(REFRESH, json={}, headers={**MODE, "Cookie": f"{COOKIE}={cookie}"}).status_code == 401


def test_json_clients_are_unchanged(tenant):
    pw = strong()
    tenant.add_user("kuki4", pw)
    body = tenant.token("kuki4", pw)
    assert body["refresh_token"]
    r = tenant.client.post(REFRESH, json={"refresh_token": body["refresh_token"]})
    assert r.status_code == 200 and r.json()["refresh_token"]
    assert not r.headers.get_list("set-cookie")
    assert tenant.client.post(REFRESH, json={}).status_code == 401  # nothing presented
