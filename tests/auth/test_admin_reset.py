"""Issue 18.9: an administrator reset their own password 26 times in a day, back to the original,
past the once-a-day rule and the history of 24. Resetting one's own account is refused (the
normal change applies), and temporary passwords no longer push real ones out of the history."""

from __future__ import annotations

from datetime import timedelta

from tests.auth.conftest import API, bearer, strong


def _reset(tenant, admin_token: str, user_id: str, temp: str):
    return tenant.client.post(f"{API}/users/{user_id}/password-reset", json={"temporary_password": temp},
                              headers=bearer(admin_token))


def test_an_admin_cannot_reset_their_own_password(tenant):
    pw = strong("admin")
    admin_id = tenant.add_user("boss", pw, roles=("tenant_admin",))
    token = tenant.token("boss", pw)["access_token"]
    r = _reset(tenant, token, admin_id, strong("temp"))
    assert r.status_code == 403, r.text
    assert r.json()["type"].endswith("/own-password-reset")
    # Nothing changed: the password still works and no reset was recorded.
    assert tenant.login("boss", pw).json()["status"] == "authenticated"
    assert not [e for e in tenant.events("roumu.auth.password.reset") if e["subject"]["user_id"] == admin_id]


def test_resets_cannot_flush_the_history_back_to_the_original(tenant, clock):
    """Each reset + forced change used to add two history entries; thirteen cycles in one day pushed
    the original out of the 24 and the user took it back."""
    admin_pw, original = strong("admin"), strong("original")
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    user_id = tenant.add_user("ito", original)
    for i in range(13):
        clock.advance(timedelta(minutes=1))  # all within one day
        admin = tenant.token("boss", admin_pw)["access_token"]
        temp = strong(f"temp{i}")
        assert _reset(tenant, admin, user_id, temp).status_code == 204
        challenge = tenant.login("ito", temp).json()["challenge"]
        wanted = original if i == 12 else strong(f"mine{i}")
        done = tenant.client.post(f"{API}/login/password", json={"challenge": challenge, "new_password": wanted})
        if i < 12:
            assert done.status_code == 200, done.text
    assert done.status_code == 422, done.text
    assert "reused" in [e["code"] for e in done.json()["errors"]]
