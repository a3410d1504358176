"""Issue 18.7: `POST /me/password` took unlimited, uncounted guesses of the current password, and
the gateway's login limit named a route that does not exist. Every auth route that checks a
secret (password, TOTP or recovery code, refresh token, client secret) is found here from the app
itself, and must be (a) under the gateway's login limit and (b) counted: a wrong secret leaves a
failed entry in the login history of the source address (the per-source throttle and, for a known
user, the lockout count read it). A new such route fails this test until it is both."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from gateway.settings import GatewaySettings
from services.auth.models import Credential, LoginEvent
from tests.auth.conftest import API, bearer, strong
from tests.auth.test_totp import enrol

# Request fields that carry a secret the route compares with a stored one. (A new password or a
# temporary password is set, not checked; a login challenge is a signed token, not a secret.)
SECRET_FIELDS = {"password", "current_password", "code", "recovery_code", "refresh_token", "client_secret"}
# Routes that take a code but check no existing secret: the caller was shown the pending TOTP
# secret a moment ago in the same flow (enrolment), so a wrong code there guesses nothing.
NOT_A_SECRET_CHECK = {"/api/v1/auth/me/totp/enrolment/confirm", "/api/v1/auth/login/totp-enrolment/confirm"}


def secret_routes(app) -> set[str]:
    """From the app's OpenAPI document: every operation whose request body has a secret field."""
    doc = app.openapi()
    schemas = doc.get("components", {}).get("schemas", {})

    def fields(schema: dict) -> set[str]:
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        names = set(schema.get("properties", {}))
        for part in schema.get("allOf", []) + schema.get("anyOf", []):
            names |= fields(part)
        return names

    found = set()
    for path, ops in doc["paths"].items():
        for op in ops.values():
            for media in op.get("requestBody", {}).get("content", {}).values():
                if fields(media.get("schema", {})) & SECRET_FIELDS:
                    found.add(path)
    return found


def test_the_finder_finds_the_known_credential_routes(auth):
    found = secret_routes(auth.app)
    assert {f"{API}/login", f"{API}/login/totp", f"{API}/me/password", f"{API}/token/refresh",
            f"{API}/oauth/token"} <= found


def test_every_secret_checking_route_is_under_the_gateway_login_limit(auth):
    # The OAuth token endpoint has a limit of its own, per client_id (issue #28: a partner serving
    # many offices from one address); its wrong secrets are throttled per address by auth (below).
    gw = GatewaySettings()
    assert gw.token_paths == [f"{API}/oauth/token"] and gw.rate_limit_token
    limited = {p.rstrip("/") for p in gw.login_paths + gw.token_paths}
    missing = secret_routes(auth.app) - limited
    assert not missing, f"secret-checking routes without the gateway's login limit: {sorted(missing)}"
    # and nothing listed that does not exist (the old list named /api/v1/auth/password)
    paths = set(auth.app.openapi()["paths"])
    assert limited - paths == set(), sorted(limited - paths)


def _failures(tenant, ip: str) -> int:
    with tenant.rt.db.transaction() as s:
        return int(s.execute(select(func.count()).select_from(LoginEvent).where(
            LoginEvent.ip == ip, LoginEvent.outcome == "failed")).scalar_one())


def test_every_secret_checking_route_counts_a_wrong_secret(tenant, clock):
    pw = strong()
    tenant.add_user("abe", pw)
    totp_pw = strong("t")
    tenant.add_user("ueda", totp_pw)
    enrol(tenant, "ueda", totp_pw, clock)
    session = tenant.token("abe", pw)

    def ip_headers(ip: str) -> dict[str, str]:
        return {"X-Roumu-Client-IP": ip}

    def login(ip: str) -> None:
        tenant.client.post(f"{API}/login", json={"tenant_code": tenant.code, "login_id": "abe", "password": "x" * 12},
                           headers=ip_headers(ip))

    def login_totp(ip: str) -> None:
        r = tenant.login("ueda", totp_pw)
        challenge = r.json()["challenge"]
        tenant.client.post(f"{API}/login/totp", json={"challenge": challenge, "code": "000001"}, headers=ip_headers(ip))

    def me_password(ip: str) -> None:
        tenant.client.post(f"{API}/me/password", json={"current_password": "wrong-" + pw, "new_password": strong()},
                           headers={**bearer(session["access_token"]), **ip_headers(ip)})

    def refresh(ip: str) -> None:
        tenant.client.post(f"{API}/token/refresh", json={"refresh_token": "guess-" + uuid.uuid4().hex},
                           headers=ip_headers(ip))

    def oauth(ip: str) -> None:
        tenant.client.post(f"{API}/oauth/token", data={"grant_type": "client_credentials", "client_id": "pc_guess",
                                                       "client_secret": "guess"}, headers=ip_headers(ip))

    def operator_login(ip: str) -> None:
        tenant.client.post(f"{API}/operators/login", json={"name": "guess", "password": "guess", "code": "000001"},
                           headers=ip_headers(ip))

    probes: dict[str, Callable[[str], None]] = {
        f"{API}/login": login, f"{API}/login/totp": login_totp, f"{API}/me/password": me_password,
        f"{API}/token/refresh": refresh, f"{API}/oauth/token": oauth, f"{API}/operators/login": operator_login,
    }
    routes = secret_routes(tenant.client.app) - NOT_A_SECRET_CHECK
    assert routes <= set(probes), f"no probe for {sorted(routes - set(probes))}: write one"
    for path in sorted(routes):
        ip = f"2001:db8:{uuid.uuid4().hex[:4]}::1"
        clock.advance(timedelta(seconds=1))
        probes[path](ip)
        assert _failures(tenant, ip) >= 1, f"{path}: a wrong secret was not counted"


def test_wrong_current_passwords_lock_the_account_and_are_in_the_history(tenant):
    pw = strong()
    user_id = tenant.add_user("mori", pw)
    token = tenant.token("mori", pw)["access_token"]
    for _ in range(5):
        r = tenant.client.post(f"{API}/me/password", json={"current_password": "nope-" + pw, "new_password": strong()},
                               headers={**bearer(token), "X-Roumu-Client-IP": tenant.ip})
        assert r.status_code == 422, r.text
    with tenant.rt.db.transaction() as s:
        assert s.get(Credential, user_id).locked_at is not None
    # locked: even the right password logs in no more
    assert tenant.login("mori", pw).status_code == 401
    reasons = [e["data"]["reason"] for e in tenant.events("roumu.auth.login.failed")
               if e["subject"]["user_id"] == user_id]
    assert reasons.count("bad_current_password") == 5
    assert [e for e in tenant.events("roumu.auth.account.locked") if e["subject"]["user_id"] == user_id]
