"""Tokens and sessions: refresh rotation and reuse detection, logout, timeouts, listing and
ending sessions, JWKS and key rotation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt

from shared.tokens import TokenVerifier
from tests.auth.conftest import API, bearer, strong

REFRESH = f"{API}/token/refresh"


def test_access_token_shape(tenant, settings):
    pw = strong()
    user_id = tenant.add_user("mori", pw)
    body = tenant.token("mori", pw)
    assert 600 <= body["expires_in"] <= 900
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"].startswith("access-")
    p = TokenVerifier(settings.keys_dir).verify_access(body["access_token"])  # what every service does
    assert p.subject == user_id and p.tenant_id == tenant.tenant_id and p.claims["sid"] == body["session_id"]
    assert p.claims["aud"] == "roumu" and p.claims["exp"] - p.claims["iat"] == body["expires_in"]


def test_refresh_rotates_and_reuse_revokes_the_family(tenant):
    pw = strong()
    tenant.add_user("okada", pw)
    first = tenant.token("okada", pw)
    r1 = tenant.client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert r1.status_code == 200, r1.text
    second = r1.json()
    assert second["refresh_token"] != first["refresh_token"] and second["session_id"] == first["session_id"]
    r2 = tenant.client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    assert r2.status_code == 200
    third = r2.json()
    # The first token again: stolen. The whole family ends, including the newest token.
    reuse = tenant.client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert tenant.client.post(REFRESH, json={"refresh_token": third["refresh_token"]}).status_code == 401
    assert tenant.client.get(f"{API}/me", headers=bearer(third["access_token"])).status_code == 401
    revoked = [e for e in tenant.events("roumu.auth.session.revoked")
               if e["subject"]["session_id"] == first["session_id"]]
    assert [e["data"]["reason"] for e in revoked] == ["refresh_reuse"]


def test_logout_makes_access_and_refresh_tokens_unusable(tenant):
    pw = strong()
    user_id = tenant.add_user("fujita", pw)
    body = tenant.token("fujita", pw)
    me = tenant.client.get(f"{API}/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["user_id"] == user_id
    assert tenant.client.post(f"{API}/logout", headers=bearer(body["access_token"])).status_code == 204
    assert tenant.client.get(f"{API}/me", headers=bearer(body["access_token"])).status_code == 401
    assert tenant.client.post(REFRESH, json={"refresh_token": body["refresh_token"]}).status_code == 401
    [ev] = [e for e in tenant.events("roumu.auth.session.revoked") if e["subject"]["session_id"] == body["session_id"]]
    assert ev["subject"]["user_id"] == user_id and ev["data"]["reason"] == "logout"


def test_idle_and_absolute_timeouts(tenant, clock):
    pw = strong()
    tenant.add_user("ishii", pw)
    idle = tenant.token("ishii", pw)
    clock.advance(timedelta(minutes=30))
    assert tenant.client.post(REFRESH, json={"refresh_token": idle["refresh_token"]}).status_code == 401
    busy = tenant.token("ishii", pw)
    token = busy["refresh_token"]
    for _ in range(30):  # refreshed every 29 minutes: never idle, but 12 hours is the end
        clock.advance(timedelta(minutes=29))
        r = tenant.client.post(REFRESH, json={"refresh_token": token})
        if r.status_code != 200:
            break
        token = r.json()["refresh_token"]
    assert r.status_code == 401
    reasons = {e["data"]["reason"] for e in tenant.events("roumu.auth.session.revoked")
               if e["subject"]["session_id"] in (idle["session_id"], busy["session_id"])}
    assert reasons == {"idle_timeout", "absolute_timeout"}


def test_previous_login_at_login_and_in_me(tenant, clock):
    pw = strong()
    tenant.add_user("hayashi", pw)
    first = tenant.token("hayashi", pw)
    assert first["previous_login"] is None
    clock.advance(timedelta(hours=1))
    second = tenant.client.post(f"{API}/login", json={"tenant_code": tenant.code, "login_id": "hayashi",
                                                      "password": pw},
                                headers={"User-Agent": "Phone/2.0", "X-Roumu-Client-IP": "192.0.2.44"}).json()
    prev = second["previous_login"]
    assert prev["ip"] == tenant.ip and prev["user_agent"].startswith("Mozilla/5.0")
    third = tenant.token("hayashi", pw)
    assert third["previous_login"]["ip"] == "192.0.2.44" and third["previous_login"]["user_agent"] == "Phone/2.0"
    me = tenant.client.get(f"{API}/me", headers=bearer(second["access_token"])).json()
    assert me["previous_login"] == prev  # `me` answers what this session was shown at login


def test_list_sessions_and_end_the_others_after_a_password_change(tenant, clock):
    pw = strong()
    tenant.add_user("shimizu", pw)
    laptop = tenant.token("shimizu", pw)
    phone = tenant.token("shimizu", pw)
    listed = tenant.client.get(f"{API}/me/sessions", headers=bearer(laptop["access_token"])).json()
    assert {s["id"] for s in listed} == {laptop["session_id"], phone["session_id"]}
    assert [s["current"] for s in listed if s["id"] == laptop["session_id"]] == [True]
    clock.advance(timedelta(minutes=5))
    changed = tenant.client.post(f"{API}/me/password", headers=bearer(laptop["access_token"]),
                                 json={"current_password": pw, "new_password": strong("n")})
    # provisioning was a change "now": the daily limit applies to the user's own change
    assert changed.status_code == 422 and changed.json()["errors"][0]["code"] == "changed_too_recently"
    clock.advance(timedelta(hours=24))
    laptop = tenant.token("shimizu", pw)
    phone = tenant.token("shimizu", pw)
    changed_pw = strong("n")
    changed = tenant.client.post(f"{API}/me/password", headers=bearer(laptop["access_token"]),
                                 json={"current_password": pw, "new_password": changed_pw})
    assert changed.status_code == 200, changed.text
    # The other sessions end with the change itself (issue 18.2), not only on request (ASVS 3.3.3).
    assert changed.json()["ended_sessions"] >= 1 and changed.json()["other_sessions"] == 0
    assert tenant.client.get(f"{API}/me", headers=bearer(phone["access_token"])).status_code == 401
    tablet = tenant.token("shimizu", changed_pw)
    ended = tenant.client.post(f"{API}/me/sessions/end-others", headers=bearer(laptop["access_token"]))
    assert ended.status_code == 200 and ended.json()["revoked"] >= 1
    assert tenant.client.get(f"{API}/me", headers=bearer(tablet["access_token"])).status_code == 401
    assert tenant.client.get(f"{API}/me", headers=bearer(laptop["access_token"])).status_code == 200
    # Ending a session by id: one that is not the user's is not found.
    assert tenant.client.delete(f"{API}/me/sessions/{uuid.uuid4()}",
                                headers=bearer(laptop["access_token"])).status_code == 404


def test_jwks_lists_keys_and_rotation_keeps_old_tokens_valid(tenant, tokens, settings):
    pw = strong()
    tenant.add_user("kimura", pw)
    before = tenant.token("kimura", pw)
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]
    r = tenant.client.post(f"{API}/keys/rotate", headers=bearer(tokens.operator()))
    assert r.status_code == 200, r.text
    new_kid = r.json()["kid"]
    keys = tenant.client.get(f"{API}/.well-known/jwks.json").json()["keys"]
    assert {old_kid, new_kid} <= {k["kid"] for k in keys}
    assert all(k["kty"] == "OKP" and k["alg"] == "EdDSA" and "d" not in k for k in keys)
    after = tenant.token("kimura", pw)
    assert jwt.get_unverified_header(after["access_token"])["kid"] == new_kid
    for body in (before, after):
        assert tenant.client.get(f"{API}/me", headers=bearer(body["access_token"])).status_code == 200
    staff = tenant.client.post(f"{API}/keys/rotate", headers=bearer(after["access_token"]))
    assert staff.status_code == 403


def test_me_tells_the_console_the_idle_policy_it_enforces(tenant, clock):
    """The console signs out after auth's idle period and warns before it (ROUMU_AUTH_IDLE_*)."""
    pw = strong()
    tenant.add_user("kimura", pw)
    t = tenant.token("kimura", pw)
    me = tenant.client.get(f"{API}/me", headers=bearer(t["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["idle_timeout_seconds"] == 30 * 60  # what test_idle_and_absolute_timeouts enforces
    assert me.json()["idle_warning_seconds"] == 120
