"""Issue 18.2: a demoted tenant administrator kept admin powers in auth until the access token
expired. Auth now decides admin rights from its read model (never the token's `roles`), and any
change of a user's roles, grants, status or password ends that user's sessions at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.auth.app import on_accounts_event
from shared.event_schemas import EventSchemas
from shared.events import Actor, EventEnvelope
from shared.permissions import snapshot_data
from tests.auth.conftest import API, bearer, strong

ADMIN = ("tenant_admin",)
BOSS = Actor(kind="user", id="someone-else")


def _apply(tenant, type_: str, user_id: str, data: dict[str, Any]) -> None:
    """An accounts event as accounts publishes it (checked against its schema), through auth's feed."""
    event = EventEnvelope(type=type_, tenant_id=tenant.tenant_id, actor=BOSS,
                          subject={"user_id": user_id, "tenant_id": tenant.tenant_id}, data=data)
    assert EventSchemas().errors(event.model_dump(mode="json")) == []
    with tenant.rt.transaction() as s:
        on_accounts_event(s, event)


def _grants(tenant, user_id: str, roles: tuple[str, ...], version: int, menus: dict[str, str] | None = None) -> None:
    _apply(tenant, "roumu.accounts.user.permissions_changed", user_id,
           snapshot_data(roles, menus or {}, True, [], "active", version))


def _revocations(tenant, session_id: str) -> list[str]:
    return [e["data"]["reason"] for e in tenant.events("roumu.auth.session.revoked")
            if e["subject"]["session_id"] == session_id]


def test_admin_rights_come_from_the_read_model_not_the_token(tenant, tokens):
    """A token claiming tenant_admin for a staff user's live session holds nothing in auth."""
    pw = strong()
    staff = tenant.add_user("sato", pw)
    session = tenant.token("sato", pw)
    forged_roles = tokens.access.sign({"sub": staff, "tid": tenant.tenant_id, "typ": "access", "kind": "user",
                                       "roles": ["tenant_admin"], "aud": "roumu", "iss": "roumu-auth",
                                       "sid": session["session_id"]}, 300)
    r = tenant.client.post(f"{API}/partner-clients", headers=bearer(forged_roles),
                           json={"name": "exfil", "scopes": ["employees:read"]})
    assert r.status_code == 403, r.text
    assert tenant.client.get(f"{API}/lockouts", headers=bearer(forged_roles)).status_code == 403


def test_demoted_admin_is_logged_out_at_once_everywhere(tenant):
    pw = strong()
    admin = tenant.add_user("tanaka", pw, roles=ADMIN)
    other = tenant.add_user("suzuki", strong(), roles=ADMIN)
    _grants(tenant, admin, ADMIN, 1)
    body = tenant.token("tanaka", pw)
    token = body["access_token"]
    assert tenant.client.get(f"{API}/lockouts", headers=bearer(token)).status_code == 200
    # accounts demotes the user: user.updated and the new permissions snapshot
    _apply(tenant, "roumu.accounts.user.updated", admin, {"login_id": "tanaka", "roles": ["staff"], "status": "active"})
    _grants(tenant, admin, ("staff",), 2)
    created = tenant.client.post(f"{API}/partner-clients", headers=bearer(token),
                                 json={"name": "late", "scopes": ["employees:write"]})
    assert created.status_code in (401, 403), created.text
    reset = tenant.client.post(f"{API}/users/{other}/password-reset", headers=bearer(token),
                               json={"temporary_password": strong("tmp")})
    assert reset.status_code in (401, 403), reset.text
    assert tenant.client.get(f"{API}/lockouts", headers=bearer(token)).status_code in (401, 403)
    # The session is over, for every service (roumu.auth.session.revoked) and for refresh.
    assert _revocations(tenant, body["session_id"]) == ["roles_changed"]
    assert tenant.client.post(f"{API}/token/refresh", json={"refresh_token": body["refresh_token"]}).status_code == 401
    # Logging in again gives a staff session: no admin route.
    again = tenant.token("tanaka", pw)
    assert tenant.client.get(f"{API}/lockouts", headers=bearer(again["access_token"])).status_code == 403


def test_a_grant_change_ends_the_sessions_a_republish_does_not(tenant):
    pw = strong()
    user = tenant.add_user("ito", pw)
    _grants(tenant, user, ("staff",), 1, {"koyo_hoken": "read"})
    body = tenant.token("ito", pw)
    # The same snapshot again (accounts' republish, a redelivery): nothing changed, nobody logged out.
    _grants(tenant, user, ("staff",), 1, {"koyo_hoken": "read"})
    assert tenant.client.get(f"{API}/me", headers=bearer(body["access_token"])).status_code == 200
    _grants(tenant, user, ("staff",), 2, {"koyo_hoken": "write"})
    assert tenant.client.get(f"{API}/me", headers=bearer(body["access_token"])).status_code == 401
    assert _revocations(tenant, body["session_id"]) == ["permissions_changed"]


def test_a_disabled_then_enabled_user_does_not_keep_old_sessions(tenant):
    pw = strong()
    user = tenant.add_user("kato", pw)
    body = tenant.token("kato", pw)
    _apply(tenant, "roumu.accounts.user.disabled", user, {})
    _apply(tenant, "roumu.accounts.user.updated", user, {"login_id": "kato", "roles": ["staff"], "status": "active"})
    assert tenant.client.get(f"{API}/me", headers=bearer(body["access_token"])).status_code == 401


def test_own_password_change_ends_every_other_session(tenant, clock):
    pw = strong()
    tenant.add_user("yamada", pw)
    clock.advance(timedelta(hours=25))
    laptop = tenant.token("yamada", pw)
    phone = tenant.token("yamada", pw)
    changed = tenant.client.post(f"{API}/me/password", headers=bearer(laptop["access_token"]),
                                 json={"current_password": pw, "new_password": strong("n")})
    assert changed.status_code == 200, changed.text
    assert changed.json()["ended_sessions"] == 1 and changed.json()["other_sessions"] == 0
    assert tenant.client.get(f"{API}/me", headers=bearer(phone["access_token"])).status_code == 401
    assert tenant.client.get(f"{API}/me", headers=bearer(laptop["access_token"])).status_code == 200
    assert _revocations(tenant, phone["session_id"]) == ["password_changed"]


def test_admins_see_who_created_each_partner_client(tenant):
    pw = strong()
    admin = tenant.add_user("nakamura", pw, roles=ADMIN)
    token = tenant.token("nakamura", pw)["access_token"]
    made = tenant.client.post(f"{API}/partner-clients", headers=bearer(token),
                              json={"name": "payroll", "scopes": ["employees:read"]})
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == admin
    peer_pw = strong()
    tenant.add_user("kobayashi", peer_pw, roles=ADMIN)
    peer = tenant.token("kobayashi", peer_pw)["access_token"]
    listed = tenant.client.get(f"{API}/partner-clients", headers=bearer(peer))
    [item] = [c for c in listed.json() if c["client_id"] == made.json()["client_id"]]
    assert item["created_by"] == admin and item["created_at"]


def test_a_login_after_the_grant_change_survives_its_late_arrival(tenant, clock):
    """The user logs in again after an administrator changed their grants but before the change
    reached auth: that session already runs under the new grants (services read them from their
    read models) and is not ended when the event arrives; the older one is."""
    pw = strong()
    user = tenant.add_user("mori", pw)
    _grants(tenant, user, ("staff",), 1, {"koyo_hoken": "read"})
    old = tenant.token("mori", pw)
    clock.advance(timedelta(seconds=1))
    changed_at = clock.now()
    clock.advance(timedelta(seconds=1))
    new = tenant.token("mori", pw)
    event = EventEnvelope(type="roumu.accounts.user.permissions_changed", tenant_id=tenant.tenant_id, actor=BOSS,
                          subject={"user_id": user, "tenant_id": tenant.tenant_id}, occurred_at=changed_at,
                          data=snapshot_data(("staff",), {"koyo_hoken": "write"}, True, [], "active", 2))
    with tenant.rt.transaction() as s:
        on_accounts_event(s, event)
    assert tenant.client.get(f"{API}/me", headers=bearer(new["access_token"])).status_code == 200
    assert tenant.client.get(f"{API}/me", headers=bearer(old["access_token"])).status_code == 401
    assert _revocations(tenant, old["session_id"]) == ["permissions_changed"]
    assert _revocations(tenant, new["session_id"]) == []
