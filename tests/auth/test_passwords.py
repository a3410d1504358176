"""Password changes under the sheet's rules, through the API, on a controllable clock."""

from __future__ import annotations

from datetime import timedelta

from tests.auth.conftest import API, bearer, strong

CHANGE = f"{API}/me/password"


def change(tenant, login_id, current, new):
    """From the user's settings, in a fresh session (the clock moves days between changes)."""
    token = tenant.token(login_id, current)["access_token"]
    return tenant.client.post(CHANGE, json={"current_password": current, "new_password": new},
                              headers=bearer(token))


def test_second_change_within_24_hours_is_refused_with_the_next_allowed_time(tenant, clock):
    first = strong("a")
    tenant.add_user("sato", first)
    clock.advance(timedelta(hours=25))  # provisioning counts as a change
    second, third = strong("b"), strong("c")
    r = change(tenant, "sato", first, second)
    assert r.status_code == 200, r.text
    changed_at = r.json()["changed_at"]
    clock.advance(timedelta(hours=23, minutes=59))
    r = change(tenant, "sato", second, third)
    assert r.status_code == 422
    body = r.json()
    assert body["errors"][0]["code"] == "changed_too_recently"
    from datetime import datetime
    assert datetime.fromisoformat(body["next_allowed_at"]) == datetime.fromisoformat(changed_at) + timedelta(hours=24)
    assert body["next_allowed_at"] in body["detail"]  # the person reads it too
    assert third not in r.text and second not in r.text
    clock.advance(timedelta(minutes=1))
    assert change(tenant, "sato", second, third).status_code == 200


def test_reuse_of_the_last_24_is_refused_and_the_25th_oldest_accepted(tenant, clock):
    passwords = [strong(f"p{i}") for i in range(25)]
    tenant.add_user("suzuki", passwords[0])
    for i in range(1, 25):  # 25 passwords set in all; passwords[24] is the current one
        clock.advance(timedelta(hours=24))
        r = change(tenant, "suzuki", passwords[i - 1], passwords[i])
        assert r.status_code == 200, (i, r.text)
    clock.advance(timedelta(hours=24))
    for old in (passwords[24], passwords[12], passwords[1]):  # newest, middle, 24th newest
        r = change(tenant, "suzuki", passwords[24], old)
        assert r.status_code == 422, r.text
        assert [e["code"] for e in r.json()["errors"]] == ["reused"]
    r = change(tenant, "suzuki", passwords[24], passwords[0])  # the 25th newest
    assert r.status_code == 200, r.text


def test_blocklisted_login_id_and_length_refused_naming_the_rule(tenant, clock):
    pw = strong()
    tenant.add_user("kobayashi", pw)
    clock.advance(timedelta(days=2))
    token = tenant.token("kobayashi", pw)["access_token"]
    cases = {"password1234": "blocklisted", "Kobayashi-lantern-2026": "contains_login_id",
             "short-1": "too_short", "qwertyuiopasdfgh": "guessable"}
    for candidate, rule in cases.items():
        r = tenant.client.post(CHANGE, json={"current_password": pw, "new_password": candidate},
                               headers=bearer(token))
        assert r.status_code == 422, candidate
        assert rule in [e["code"] for e in r.json()["errors"]], (candidate, r.json())
        assert candidate not in r.text
    # The current password must be right.
    r = tenant.client.post(CHANGE, json={"current_password": "not-the-password", "new_password": strong()},
                           headers=bearer(token))
    assert r.status_code == 422 and r.json()["type"].endswith("/current-password-invalid")


def test_admin_reset_is_exempt_and_forces_a_change_at_next_login(tenant, clock):
    admin_pw, pw = strong("admin"), strong("user")
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    user_id = tenant.add_user("ito", pw)
    admin = tenant.token("boss", admin_pw)["access_token"]
    old_session = tenant.token("ito", pw)
    temp = strong("temp")
    # Minutes after the last change: an administrator's reset is not held to the daily limit.
    r = tenant.client.post(f"{API}/users/{user_id}/password-reset", json={"temporary_password": temp},
                           headers=bearer(admin))
    assert r.status_code == 204, r.text
    assert tenant.client.get(f"{API}/me", headers=bearer(old_session["access_token"])).status_code == 401
    r = tenant.login("ito", temp)
    assert r.status_code == 200 and r.json()["status"] == "password_change_required"
    assert r.json()["access_token"] is None
    challenge = r.json()["challenge"]
    refused = tenant.client.post(f"{API}/login/password", json={"challenge": challenge, "new_password": temp})
    assert refused.status_code == 422 and "reused" in [e["code"] for e in refused.json()["errors"]]
    new = strong("new")
    done = tenant.client.post(f"{API}/login/password", json={"challenge": challenge, "new_password": new})
    assert done.status_code == 200 and done.json()["status"] == "authenticated", done.text
    # The challenge bought one change, not a way around the daily limit.
    again = tenant.client.post(f"{API}/login/password", json={"challenge": challenge, "new_password": strong()})
    assert again.status_code == 401
    assert tenant.login("ito", new).json()["status"] == "authenticated"
    # Another tenant's administrator cannot reset this user: it does not exist for them.
    types = [e["type"] for e in tenant.events() if e["subject"].get("user_id") == user_id]
    assert "roumu.auth.password.reset" in types and "roumu.auth.password.changed" in types
    changed = [e for e in tenant.events("roumu.auth.password.changed") if e["subject"]["user_id"] == user_id]
    assert changed[-1]["data"] == {"via": "login", "forced": True}


def test_a_password_the_policy_now_refuses_must_be_changed_at_login(tenant):
    tenant.add_user("yamada", "password1234")  # the seed path sets what it is given
    r = tenant.login("yamada", "password1234")
    assert r.status_code == 200 and r.json()["status"] == "password_change_required"


def test_rehash_when_parameters_change(tenant, auth):
    """A hash made with other argon2 parameters is replaced at the next successful login."""
    from sqlalchemy import select

    from services.auth.models import Credential

    pw = strong()
    user_id = tenant.add_user("rehash", pw)  # hashed with the production parameters (19 MiB, t=2)
    with tenant.rt.db.transaction() as s:
        before = s.execute(select(Credential.password_hash).where(Credential.user_id == user_id)).scalar_one()
    assert "m=19456,t=2,p=1" in before
    tenant.token("rehash", pw)
    with tenant.rt.db.transaction() as s:
        after = s.execute(select(Credential.password_hash).where(Credential.user_id == user_id)).scalar_one()
    assert after != before and "m=1024,t=1,p=1" in after  # this app's parameters
    assert tenant.token("rehash", pw)["access_token"]
