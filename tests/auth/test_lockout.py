"""Lockout after consecutive failures, no enumeration, unlock by time or administrator, the
records, login history, per-source throttling."""

from __future__ import annotations

from datetime import timedelta

from services.auth.settings import AuthSettings
from tests.auth.conftest import API, CHEAP, LOGIN, UA, bearer, strong


def _refusal(r):
    body = r.json()
    return r.status_code, body["type"], body["title"], body.get("detail")


def test_no_enumeration_same_answer_for_every_refusal(tenant):
    pw = strong()
    tenant.add_user("nakamura", pw)
    answers = {
        "unknown tenant": tenant.login("nakamura", pw, code="no-such-tenant"),
        "unknown user": tenant.login("nobody", pw),
        "wrong password": tenant.login("nakamura", strong()),
    }
    for _ in range(4):
        tenant.login("nakamura", "wrong-password-again")
    answers["locked, right password"] = tenant.login("nakamura", pw)
    shapes = {k: _refusal(r) for k, r in answers.items()}
    assert len(set(shapes.values())) == 1, shapes
    reasons = [e["data"]["reason"] for e in tenant.events("roumu.auth.login.failed")]
    assert {"unknown_user", "bad_password", "locked"} <= set(reasons)


def test_five_failures_lock_the_sixth_is_refused_and_the_period_unlocks(tenant, clock):
    pw = strong()
    user_id = tenant.add_user("watanabe", pw)
    admin_pw = strong("admin")
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    for _ in range(5):
        assert tenant.login("watanabe", "not-my-password-1").status_code == 401
    assert tenant.login("watanabe", pw).status_code == 401  # the sixth, with the right password
    locked = [e for e in tenant.events("roumu.auth.account.locked") if e["subject"]["user_id"] == user_id]
    assert len(locked) == 1 and locked[0]["data"]["failures"] == 5
    clock.advance(timedelta(minutes=29, seconds=59))
    assert tenant.login("watanabe", pw).status_code == 401
    clock.advance(timedelta(seconds=1))
    r = tenant.login("watanabe", pw)
    assert r.status_code == 200, r.text
    unlocked = [e for e in tenant.events("roumu.auth.account.unlocked") if e["subject"]["user_id"] == user_id]
    assert unlocked[-1]["data"]["reason"] == "expired"

    admin = tenant.token("boss", admin_pw)["access_token"]
    records = tenant.client.get(f"{API}/lockouts", params={"user_id": user_id}, headers=bearer(admin))
    assert records.status_code == 200
    [rec] = records.json()
    assert rec["failures"] == 5 and rec["unlock_reason"] == "expired" and rec["unlocked_at"] == rec["locked_until"]

    history = tenant.client.get(f"{API}/me/login-history", headers=bearer(r.json()["access_token"])).json()
    outcomes = [(h["outcome"], h["reason"]) for h in reversed(history)]
    assert outcomes[:6] == [("failed", "bad_password")] * 5 + [("locked", "threshold")]
    assert ("failed", "locked") in outcomes and outcomes[-1] == ("succeeded", None)
    assert history[0]["user_agent"] == UA


def test_admin_unlock_and_tenant_admin_only_lock(tenant, clock):
    tenant.settings(lockout_policy={"threshold": 3, "duration_minutes": None, "admin_unlock_only": True})
    pw, admin_pw = strong(), strong("admin")
    user_id = tenant.add_user("kato", pw)
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss", admin_pw)["access_token"]
    for _ in range(3):
        tenant.login("kato", "wrong-wrong-wrong")
    clock.advance(timedelta(days=3))  # no period: still locked
    admin = tenant.token("boss", admin_pw)["access_token"]
    assert tenant.login("kato", pw).status_code == 401
    staff = tenant.add_user("staff", strong("s"))
    assert staff
    r = tenant.client.post(f"{API}/users/{user_id}/unlock", headers=bearer(admin))
    assert r.status_code == 204, r.text
    assert tenant.login("kato", pw).status_code == 200
    assert tenant.client.post(f"{API}/users/{user_id}/unlock", headers=bearer(admin)).status_code == 409
    [rec] = tenant.client.get(f"{API}/lockouts", params={"user_id": user_id}, headers=bearer(admin)).json()
    assert rec["locked_until"] is None and rec["unlock_reason"] == "admin"
    assert rec["unlocked_by"] == tenant.users["boss"]


def test_non_admins_and_other_tenants_cannot_unlock(tenant, auth):
    from tests.auth.conftest import Tenant

    pw = strong()
    user_id = tenant.add_user("abe", pw)
    staff = tenant.token("abe", pw)["access_token"]
    assert tenant.client.post(f"{API}/users/{user_id}/unlock", headers=bearer(staff)).status_code == 403
    import uuid
    other = Tenant(auth, str(uuid.uuid4()), f"o{uuid.uuid4().hex[:8]}")
    other_pw = strong()
    other.add_user("boss", other_pw, roles=("tenant_admin",))
    foreign_admin = other.token("boss", other_pw)["access_token"]
    assert tenant.client.post(f"{API}/users/{user_id}/unlock", headers=bearer(foreign_admin)).status_code == 404


def test_per_source_throttle(service_client, clock):
    import uuid

    from tests.auth.conftest import Tenant

    client = service_client("auth", clock=clock, passwords=CHEAP,
                            auth_settings=AuthSettings(source_failure_limit=3, source_window_minutes=10))
    t = Tenant(client, str(uuid.uuid4()), f"s{uuid.uuid4().hex[:8]}")
    pw = strong()
    t.add_user("ueda", pw)
    source = {"X-Roumu-Client-IP": f"2001:db8:6::{uuid.uuid4().hex[:4]}"}
    for login_id in ("a1", "a2", "a3"):  # spraying different accounts
        assert t.login(login_id, "whatever-password", headers=source).status_code == 401
    r = t.login("ueda", pw, headers=source)
    assert r.status_code == 429 and r.headers["Retry-After"] == "600"
    # Another source: an address of its own (a fixed one can carry other tests' failures in one database).
    other = {"X-Roumu-Client-IP": f"2001:db8:7::{uuid.uuid4().hex[:4]}"}
    assert t.login("ueda", pw, headers=other).status_code == 200
    clock.advance(timedelta(minutes=10, seconds=1))
    assert t.login("ueda", pw, headers=source).status_code == 200


def test_failed_login_event_never_carries_what_was_typed(tenant):
    typed = "my-secret-typed-into-the-id"
    tenant.login(typed, "hunter2-hunter2-hunter2")
    assert not [e for e in tenant.events() if typed in str(e) or "hunter2" in str(e)]
    assert LOGIN
