"""TOTP: enrolment with URI and QR, confirmation, login with a code (±1 step, each step once),
recovery codes (each once), administrator's reset, tenant-wide requirement."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pyotp

from services.auth.rules import totp as rules
from tests.auth.conftest import API, bearer, strong


def enrol(tenant, login_id, pw, clock):
    token = tenant.token(login_id, pw)["access_token"]
    r = tenant.client.post(f"{API}/me/totp/enrolment", headers=bearer(token))
    assert r.status_code == 200, r.text
    body = r.json()
    uri = urlparse(body["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    secret = parse_qs(uri.query)["secret"][0]
    assert secret == body["secret"] and parse_qs(uri.query)["issuer"] == ["Roumu"]
    assert base64.b64decode(body["qr_png"].split(",", 1)[1]).startswith(b"\x89PNG")
    wrong = tenant.client.post(f"{API}/me/totp/enrolment/confirm", json={"code": "000000"}, headers=bearer(token))
    if rules.code_at(secret, rules.step_at(clock.now())) != "000000":
        assert wrong.status_code == 422
    code = rules.code_at(secret, rules.step_at(clock.now()))
    r = tenant.client.post(f"{API}/me/totp/enrolment/confirm", json={"code": code}, headers=bearer(token))
    assert r.status_code == 200, r.text
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10
    return secret, codes


def second_step(tenant, login_id, pw, **factor):
    r = tenant.login(login_id, pw)
    assert r.status_code == 200 and r.json()["status"] == "totp_required", r.text
    assert r.json()["access_token"] is None
    return tenant.client.post(f"{API}/login/totp", json={"challenge": r.json()["challenge"], **factor},
                              headers={"X-Roumu-Client-IP": tenant.ip})


def test_totp_login_replay_refused_window_and_recovery_code_once(tenant, clock):
    pw = strong()
    user_id = tenant.add_user("ogawa", pw)
    secret, codes = enrol(tenant, "ogawa", pw, clock)
    clock.advance(timedelta(seconds=60))
    step = rules.step_at(clock.now())
    code = rules.code_at(secret, step)
    ok = second_step(tenant, "ogawa", pw, code=code)
    assert ok.status_code == 200 and ok.json()["status"] == "authenticated", ok.text
    replay = second_step(tenant, "ogawa", pw, code=code)  # same code, same 30 s window
    assert replay.status_code == 401 and replay.json()["type"] == ok.json().get("type", replay.json()["type"])
    # ±1 step: the next step's code (a phone a little ahead) is accepted...
    assert second_step(tenant, "ogawa", pw, code=rules.code_at(secret, step + 1)).status_code == 200
    # ...but not one two steps away.
    assert second_step(tenant, "ogawa", pw, code=rules.code_at(secret, step + 3)).status_code == 401
    reasons = [e["data"]["reason"] for e in tenant.events("roumu.auth.login.failed")
               if e["subject"]["user_id"] == user_id]
    assert reasons == ["totp_replayed", "bad_totp"]

    r = second_step(tenant, "ogawa", pw, recovery_code=codes[3].upper())
    assert r.status_code == 200 and r.json()["status"] == "authenticated"
    assert second_step(tenant, "ogawa", pw, recovery_code=codes[3]).status_code == 401
    me = tenant.client.get(f"{API}/me", headers=bearer(r.json()["access_token"])).json()
    assert me["totp_enabled"] and me["recovery_codes_left"] == 9
    methods = [e["data"]["method"] for e in tenant.events("roumu.auth.login.succeeded")
               if e["subject"]["user_id"] == user_id]
    assert methods[-1] == "password+recovery_code" and "password+totp" in methods
    assert [e["data"] for e in tenant.events("roumu.auth.totp.enrolled") if e["subject"]["user_id"] == user_id] \
        == [{"recovery_count": 10}]


def test_totp_failures_count_toward_the_lockout(tenant, clock):
    pw = strong()
    tenant.add_user("goto", pw)
    secret, _ = enrol(tenant, "goto", pw, clock)
    clock.advance(timedelta(minutes=2))
    for _ in range(5):
        assert second_step(tenant, "goto", pw, code="999999" if rules.code_at(secret, rules.step_at(clock.now()))
                           != "999999" else "888888").status_code == 401
    assert tenant.login("goto", pw).status_code == 401  # locked now, right password or not


def test_admin_reset_and_tenant_requirement_enrol_at_login(tenant, clock):
    pw, admin_pw = strong(), strong("admin")
    user_id = tenant.add_user("murata", pw)
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss", admin_pw)["access_token"]
    enrol(tenant, "murata", pw, clock)
    assert tenant.login("murata", pw).json()["status"] == "totp_required"
    assert tenant.client.delete(f"{API}/users/{user_id}/totp", headers=bearer(admin)).status_code == 204
    assert [e for e in tenant.events("roumu.auth.totp.reset") if e["subject"]["user_id"] == user_id]
    assert tenant.login("murata", pw).json()["status"] == "authenticated"

    tenant.settings(totp_required=True)
    r = tenant.login("murata", pw)
    assert r.json()["status"] == "totp_enrolment_required" and r.json()["access_token"] is None
    challenge = r.json()["challenge"]
    enrolment = tenant.client.post(f"{API}/login/totp-enrolment", json={"challenge": challenge}).json()
    code = pyotp.TOTP(enrolment["secret"]).at(clock.now())
    done = tenant.client.post(f"{API}/login/totp-enrolment/confirm", json={"challenge": challenge, "code": code})
    assert done.status_code == 200 and done.json()["status"] == "authenticated", done.text
    assert len(done.json()["recovery_codes"]) == 10
    assert tenant.login("murata", pw).json()["status"] == "totp_required"


def test_secret_is_sealed_at_rest(tenant, clock):
    from services.auth.models import Credential

    pw = strong()
    user_id = tenant.add_user("sealed", pw)
    secret, _ = enrol(tenant, "sealed", pw, clock)
    with tenant.rt.db.transaction() as s:
        stored = s.get(Credential, user_id).totp_secret
    assert stored and secret not in stored
    assert stored.split(":")[0] == tenant.rt.extras["auth"].data_keys.keys[0][0]  # sealed, key id first
