"""The operators' realm (issue 24): an operator created by `python -m ops.operators add` signs in
with password and TOTP from the operator allowlist only, gets the operator token the operator routes
accept, and what they then do is in the affected tenant's audit log under their name."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from ops import operators as ops_operators
from services.auth.models import messaging
from services.auth.rules.totp import code_at, step_at
from services.auth.settings import AuthSettings
from shared.tokens import TokenVerifier
from tests.accounts.conftest import BASE, add_user, open_tenant, wait_for
from tests.auth.conftest import CHEAP, UA, strong
from tests.conftest import bearer

LOGIN = "/api/v1/auth/operators/login"
MANAGEMENT = "198.51.100.0/24"
INSIDE, OUTSIDE = "198.51.100.7", "203.0.113.9"


@pytest.fixture
def auth(service_client, clock):
    return service_client("auth", clock=clock, passwords=CHEAP,
                          auth_settings=AuthSettings(operator_allowlist=[MANAGEMENT]))


@pytest.fixture
def operator(settings):
    name = f"op{uuid.uuid4().hex[:8]}"
    password = strong("op")
    added = ops_operators.add(settings, name, "山田 運用", password, passwords=CHEAP)
    return name, password, added.totp_secret


def sign_in(auth, name, password, code, ip):
    return auth.post(LOGIN, json={"name": name, "password": password, "code": code},
                     headers={"User-Agent": UA, "X-Roumu-Client-IP": ip})


def code_now(secret, clock, steps=0):
    return code_at(secret, step_at(clock.now()) + steps)


def operator_events(auth, type_):
    rt = auth.app.state.runtime
    with rt.db.transaction() as s:
        rows = s.execute(select(messaging.outbox.c.payload).order_by(messaging.outbox.c.seq)).scalars().all()
    return [p for p in rows if p["type"] == type_]


def test_an_operator_signs_in_with_totp_from_the_management_network_and_is_refused_elsewhere(
        auth, operator, clock, settings):
    name, password, secret = operator
    outside = sign_in(auth, name, password, code_now(secret, clock), OUTSIDE)
    assert outside.status_code == 403, outside.text
    assert outside.json()["type"].endswith("/ip-not-allowed")
    assert "access_token" not in outside.text

    r = sign_in(auth, name, password, code_now(secret, clock), INSIDE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expires_in"] <= 900 and "refresh_token" not in body
    p = TokenVerifier(settings.keys_dir).verify_access(body["access_token"])
    assert (p.kind, p.subject, p.tenant_id, "operator" in p.roles) == ("operator", name, None, True)
    assert p.claims["amr"] == ["pwd", "otp"] and p.claims["sid"] == body["session_id"]

    failed = [e for e in operator_events(auth, "roumu.auth.operator.login_failed") if e["actor"]["id"] == name]
    assert [(e["data"]["reason"], e["actor"]["ip"]) for e in failed] == [("ip_not_allowed", OUTSIDE)]
    ok = [e for e in operator_events(auth, "roumu.auth.operator.login_succeeded") if e["actor"]["id"] == name]
    assert len(ok) == 1 and ok[0]["tenant_id"] is None and ok[0]["actor"]["kind"] == "operator"


def test_the_second_factor_is_required_and_a_code_is_used_once(auth, operator, clock):
    name, password, secret = operator
    assert sign_in(auth, name, password, "000000" if code_now(secret, clock) != "000000" else "111111",
                   INSIDE).status_code == 401
    assert auth.post(LOGIN, json={"name": name, "password": password},
                     headers={"X-Roumu-Client-IP": INSIDE}).status_code == 422
    code = code_now(secret, clock)
    assert sign_in(auth, name, password, code, INSIDE).status_code == 200
    replay = sign_in(auth, name, password, code, INSIDE)
    assert replay.status_code == 401 and "access_token" not in replay.text
    assert sign_in(auth, name, "wrong-" + password, code_now(secret, clock, 1), INSIDE).status_code == 401
    # Unknown names answer exactly as wrong passwords do.
    unknown = sign_in(auth, "nobody" + uuid.uuid4().hex[:6], password, code, INSIDE)
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert unknown.status_code == 401 and strip(unknown) == strip(replay)


def test_an_operator_is_locked_after_five_failures_and_a_disabled_one_cannot_sign_in(auth, operator, clock,
                                                                                      settings):
    name, password, secret = operator
    for _ in range(5):
        assert sign_in(auth, name, "wrong-" + password, code_now(secret, clock), INSIDE).status_code == 401
    assert sign_in(auth, name, password, code_now(secret, clock), INSIDE).status_code == 401  # locked
    clock.advance(timedelta(minutes=31))
    assert sign_in(auth, name, password, code_now(secret, clock), INSIDE).status_code == 200
    ops_operators.disable(settings, name)
    clock.advance(timedelta(minutes=1))
    assert sign_in(auth, name, password, code_now(secret, clock), INSIDE).status_code == 401
    reasons = [e["data"]["reason"] for e in operator_events(auth, "roumu.auth.operator.login_failed")
               if e["actor"]["id"] == name]
    assert reasons == ["bad_password"] * 5 + ["locked", "disabled"]


def test_the_command_refuses_a_weak_password_and_a_taken_name(settings, operator):
    name, _, _ = operator
    with pytest.raises(ops_operators.operators.OperatorError):
        ops_operators.add(settings, f"x{uuid.uuid4().hex[:6]}", "x", "password", passwords=CHEAP)
    with pytest.raises(ops_operators.operators.OperatorError):
        ops_operators.add(settings, name, "x", strong(), passwords=CHEAP)
    assert any(row[0] == name for row in ops_operators.listing(settings))


def test_operator_actions_are_in_the_tenants_log_under_the_operators_name(service_client, auth, operator, clock,
                                                                          tokens):
    """Restore runbook step 6 (republish-grants) and the contract end, done with a real operator
    token; the tenant's administrator reads them as 運用者による操作 and reads the schedule."""
    accounts = service_client("accounts")
    audit = service_client("audit_log")
    name, password, secret = operator
    r = sign_in(auth, name, password, code_now(secret, clock), INSIDE)
    assert r.status_code == 200, r.text
    op = {**bearer(r.json()["access_token"]), "X-Roumu-Client-IP": INSIDE}

    t = open_tenant(accounts, tokens)
    _, staff_token = add_user(accounts, t, tokens, "staff-a", {"koyo_hoken": "read"})
    other = open_tenant(accounts, tokens)
    etag = accounts.get(f"{BASE}/tenants/{t.id}", headers=op).headers["etag"]
    body = {"name": "テスト社会保険労務士事務所", "kind": "both", "contract_start": "2026-04-01",
            "contract_end": "2027-03-31"}
    assert accounts.put(f"{BASE}/tenants/{t.id}", headers={**op, "If-Match": etag}, json=body).status_code == 200
    rep = accounts.post(f"{BASE}/operations/republish-grants", headers=op, json={"tenant_id": t.id})
    assert rep.status_code == 200, rep.text
    assert rep.json()["users"] == 2 and rep.json()["tenants"] == 1

    # The tenant's administrator: contract dates and deletion schedule, read-only.
    admin = bearer(t.admin_token)
    assert accounts.get(f"{BASE}/tenants/{t.id}", headers=admin).json()["contract_end"] == "2027-03-31"
    term = accounts.get(f"{BASE}/tenants/{t.id}/termination", headers=admin)
    assert term.status_code == 200, term.text
    assert term.json()["contract_end"] == "2027-03-31" and term.json()["data_deleted_on"]
    assert accounts.get(f"{BASE}/tenants/{t.id}/termination", headers=bearer(staff_token)).status_code == 403
    assert accounts.get(f"{BASE}/tenants/{other.id}/termination", headers=admin).status_code == 404
    assert accounts.put(f"{BASE}/tenants/{t.id}", headers={**admin, "If-Match": etag}, json=body).status_code == 403

    def operator_entries():
        page = audit.get("/api/v1/audit-log/entries?actor_kind=operator", headers=admin)
        assert page.status_code == 200, page.text
        # (open_tenant's test token, an operator too, opened the tenant: only ours are looked at)
        items = [e for e in page.json()["items"] if e["actor_id"] == name]
        types = {e["type"] for e in items}
        return items if {"roumu.accounts.tenant.updated", "roumu.accounts.user.permissions_changed"} <= types \
            else None

    items = wait_for(operator_entries)
    assert {(e["actor_kind"], e["actor_id"], e["actor_ip"]) for e in items} == {("operator", name, INSIDE)}
    # Nothing of it in another tenant's log.
    theirs = audit.get("/api/v1/audit-log/entries?actor_kind=operator", headers=bearer(other.admin_token))
    assert theirs.status_code == 200 and not [e for e in theirs.json()["items"] if e["actor_id"] == name]
