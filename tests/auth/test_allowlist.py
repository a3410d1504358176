"""Issue 18.4, auth's side: the tenant's IP allowlist is enforced by auth itself as a second line
(on every login step and on /token/refresh, from the client address the gateway forwards), and
login and refresh bodies beyond a few KiB are refused with 413 before they are parsed."""

from __future__ import annotations

import json

from tests.auth.conftest import API, LOGIN, UA, strong

REFRESH = f"{API}/token/refresh"
INSIDE, INSIDE6, OUTSIDE = "192.0.2.10", "2001:db8:77::5", "198.51.100.7"


def _from(ip: str) -> dict[str, str]:
    return {"X-Roumu-Client-IP": ip, "User-Agent": UA}


def test_login_and_refresh_from_outside_the_allowlist_are_refused_by_auth(tenant):
    pw = strong()
    tenant.add_user("kondo", pw)
    tenant.settings(ip_allowlist=["192.0.2.0/24", "2001:db8:77::/48"])
    body = {"tenant_code": tenant.code, "login_id": "kondo", "password": pw}
    outside = tenant.client.post(LOGIN, json=body, headers=_from(OUTSIDE))
    assert outside.status_code == 403 and outside.json()["type"].endswith("/ip-not-allowed"), outside.text
    assert "access_token" not in outside.text
    assert tenant.client.post(LOGIN, json=body, headers=_from(INSIDE6)).status_code == 200
    inside = tenant.client.post(LOGIN, json=body, headers=_from(INSIDE))
    assert inside.status_code == 200 and inside.json()["status"] == "authenticated", inside.text
    refresh = inside.json()["refresh_token"]
    refused = tenant.client.post(REFRESH, json={"refresh_token": refresh}, headers=_from(OUTSIDE))
    assert refused.status_code == 403 and refused.json()["type"].endswith("/ip-not-allowed"), refused.text
    # not spent by the refusal: from inside it still works
    assert tenant.client.post(REFRESH, json={"refresh_token": refresh}, headers=_from(INSIDE)).status_code == 200
    reasons = [e["data"]["reason"] for e in tenant.events("roumu.auth.login.failed")
               if e["actor"]["ip"] == OUTSIDE]
    assert "ip_not_allowed" in reasons


def test_oversized_login_and_refresh_bodies_are_refused_with_413(tenant):
    pw = strong()
    tenant.add_user("endo", pw)
    padded = json.dumps({"tenant_code": tenant.code, "login_id": "endo", "password": pw}) + " " * 600_000
    headers = {**_from(INSIDE), "Content-Type": "application/json"}
    r = tenant.client.post(LOGIN, content=padded, headers=headers)
    assert r.status_code == 413, r.text
    assert r.json()["type"].endswith("/payload-too-large")
    r = tenant.client.post(REFRESH, content=json.dumps({"refresh_token": "x"}) + " " * 600_000, headers=headers)
    assert r.status_code == 413, r.text
    # Without a Content-Length (streamed), the same.
    def chunks():
        yield padded.encode()
    r = tenant.client.post(LOGIN, content=chunks(), headers=headers)
    assert r.status_code == 413, r.text
    assert tenant.login("endo", pw).status_code == 200  # a normal body is fine


def test_a_refresh_naming_another_tenant_is_refused_and_leaves_the_token_unspent(tenant):
    """The gateway judges the allowlist of the tenant a refresh names: auth refuses a name that is not
    the session's own, so naming an allowlist-free office gets nothing."""
    pw = strong()
    tenant.add_user("sato", pw)
    got = tenant.client.post(LOGIN, json={"tenant_code": tenant.code, "login_id": "sato", "password": pw},
                             headers=_from(INSIDE))
    assert got.status_code == 200, got.text
    token = got.json()["refresh_token"]
    other = tenant.client.post(REFRESH, json={"refresh_token": token, "tenant_code": "someone-else"},
                               headers=_from(INSIDE))
    assert other.status_code == 401, other.text
    own = tenant.client.post(REFRESH, json={"refresh_token": token, "tenant_code": tenant.code},
                             headers=_from(INSIDE))
    assert own.status_code == 200, own.text
