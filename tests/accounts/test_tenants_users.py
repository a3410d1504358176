"""Tenants (operators only, one first administrator, settings event), users managed by
administrators (events to auth), no self sign-up / invitations / SAML, optimistic concurrency,
internal endpoints for the gateway."""

from tests.accounts.conftest import BASE, add_user, open_tenant, wait_for
from tests.conftest import bearer
from tests.services.support import assert_matches_contract, outbox_payloads


def test_operator_opens_tenant_with_one_admin_and_settings(accounts, tokens, settings):
    t = open_tenant(accounts, tokens, settings={"totp_required": True,
                                                "ip_allowlist": ["192.0.2.0/24", "2001:db8::/32"],
                                                "password_policy": {"min_length": 12},
                                                "lockout_policy": {"threshold": 5, "admin_unlock_only": True}})
    users = accounts.get(f"{BASE}/users", headers=bearer(t.admin_token)).json()["items"]
    assert [(u["login_id"], u["roles"]) for u in users] == [("admin", ["tenant_admin"])]
    events = {e["type"]: e for e in outbox_payloads(settings, "accounts", t.id)}
    s = events["roumu.accounts.tenant.settings_changed"]
    assert_matches_contract(s)
    assert s["data"] == {"totp_required": True, "device_cert_required": False,
                         "ip_allowlist": ["192.0.2.0/24", "2001:db8::/32"],
                         "password_policy": {"min_length": 12, "max_length": None, "history": None,
                                             "min_age_hours": None},
                         "lockout_policy": {"threshold": 5, "duration_minutes": None, "admin_unlock_only": True}}
    # Tenant users never manage tenants: the operator role is apart.
    r = accounts.post(f"{BASE}/tenants", headers=bearer(t.admin_token),
                      json={"code": "x-nope", "name": "x", "kind": "both", "contract_start": "2026-04-01"})
    assert r.status_code == 403
    bad = accounts.put(f"{BASE}/tenants/{t.id}/settings", headers={**bearer(t.admin_token), "If-Match": '"1"'},
                       json={"ip_allowlist": ["10.0.0.1/8"]})
    assert bad.status_code == 422 and "10.0.0.1/8" not in bad.text


def test_internal_tenant_view_is_for_service_tokens(accounts, tokens):
    t = open_tenant(accounts, tokens, settings={"device_cert_required": True, "ip_allowlist": ["203.0.113.0/24"]})
    gw = bearer(tokens.service("gateway", "accounts"))
    for path in (f"{BASE}/internal/tenants/by-code/{t.code}", f"{BASE}/internal/tenants/{t.id}"):
        r = accounts.get(path, headers=gw)
        assert r.status_code == 200, r.text
        assert r.json() == {"tenant_id": t.id, "code": t.code, "status": "active",
                            "ip_allowlist": ["203.0.113.0/24"], "device_cert_required": True}
        assert accounts.get(path, headers=bearer(t.admin_token)).status_code == 403
        assert accounts.get(path, headers=bearer(tokens.operator())).status_code == 403
    assert accounts.get(f"{BASE}/internal/tenants/by-code/no-such-code", headers=gw).status_code == 404


def test_user_lifecycle_events_and_concurrency(accounts, tokens, settings):
    t = open_tenant(accounts, tokens)
    user, staff = add_user(accounts, t, tokens, "tanaka", {"koyo_hoken": "read"})
    uid, url = user["id"], f"{BASE}/users/{user['id']}"
    body = {"login_id": "tanaka2", "display_name": "田中", "roles": ["staff"],
            "grants": {"menus": {"koyo_hoken": "write"}, "jigyosho": {"all": True, "ids": []}}}
    assert accounts.put(url, headers=bearer(t.admin_token), json=body).status_code == 428
    first = accounts.put(url, headers={**bearer(t.admin_token), "If-Match": '"1"'}, json=body)
    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    # A second editor still holding version 1 does not overwrite silently.
    second = accounts.put(url, headers={**bearer(t.admin_token), "If-Match": '"1"'}, json={**body, "login_id": "x-y"})
    assert second.status_code == 412 and second.json()["title"] == "データが他の利用者によって更新されています"
    assert accounts.get(url, headers=bearer(t.admin_token)).json()["login_id"] == "tanaka2"

    # Staff cannot manage users; a user may read themself.
    assert accounts.post(f"{BASE}/users", headers=bearer(staff),
                         json={"login_id": "nope", "display_name": "x"}).status_code == 403
    assert accounts.get(url, headers=bearer(staff)).status_code == 200
    assert accounts.get(f"{BASE}/users/{t.admin_id}", headers=bearer(staff)).status_code == 403

    assert accounts.post(f"{url}/disable", headers={**bearer(t.admin_token), "If-Match": '"2"'}).status_code == 200
    assert accounts.delete(url, headers={**bearer(t.admin_token), "If-Match": '"3"'}).status_code == 204
    assert accounts.get(url, headers=bearer(t.admin_token)).status_code == 404
    types = [e["type"] for e in outbox_payloads(settings, "accounts", uid)]
    assert types == ["roumu.accounts.user.created", "roumu.accounts.user.permissions_changed",
                     "roumu.accounts.user.updated", "roumu.accounts.user.permissions_changed",
                     "roumu.accounts.user.disabled", "roumu.accounts.user.permissions_changed",
                     "roumu.accounts.user.deleted"]
    for e in outbox_payloads(settings, "accounts", uid):
        assert_matches_contract(e)
    versions = [e["data"]["permissions_version"] for e in outbox_payloads(settings, "accounts", uid)
                if e["type"].endswith("permissions_changed")]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_last_admin_and_no_escalation(accounts, tokens):
    t = open_tenant(accounts, tokens)
    r = accounts.post(f"{BASE}/users/{t.admin_id}/disable", headers={**bearer(t.admin_token), "If-Match": '"1"'})
    assert r.status_code == 409 and r.json()["type"].endswith("/last-administrator")
    _, helper = add_user(accounts, t, tokens, "helper", {"user_admin": "write", "files": "read"})
    ok = accounts.post(f"{BASE}/users", headers=bearer(helper),
                       json={"login_id": "ok-1", "display_name": "x", "grants": {"menus": {"files": "read"}}})
    assert ok.status_code == 201, ok.text
    for grants, roles in (({"menus": {"files": "write"}}, ["staff"]), ({"menus": {}}, ["tenant_admin"]),
                          ({"menus": {"koyo_hoken": "read"}}, ["staff"])):
        r = accounts.post(f"{BASE}/users", headers=bearer(helper),
                          json={"login_id": "esc-1", "display_name": "x", "roles": roles, "grants": grants})
        assert r.status_code == 403, (grants, roles)
    r = accounts.post(f"{BASE}/users", headers=bearer(t.admin_token),
                      json={"login_id": "bad-menu", "display_name": "x", "grants": {"menus": {"nope": "read"}}})
    assert r.status_code == 422


def test_sign_up_invitations_and_saml_are_refused_clearly(accounts, tokens):
    t = open_tenant(accounts, tokens)
    for method, path in (("post", "signup"), ("post", "invitations"), ("get", "saml/login"), ("post", "saml/acs")):
        r = getattr(accounts, method)(f"{BASE}/{path}", headers=bearer(t.admin_token))
        assert r.status_code == 403, path
        assert r.json()["type"].endswith("/not-offered") and r.json()["title"] == "この機能は提供していません"
        assert r.json()["detail"]


def test_tenant_update_needs_if_match_and_schedules_the_end(accounts, tokens):
    t = open_tenant(accounts, tokens)
    op = bearer(tokens.operator())
    body = {"name": "新名称", "kind": "sharoushi", "contract_start": "2026-04-01", "contract_end": "2026-12-28"}
    assert accounts.put(f"{BASE}/tenants/{t.id}", headers=op, json=body).status_code == 428
    etag = accounts.get(f"{BASE}/tenants/{t.id}", headers=op).headers["etag"]
    r = accounts.put(f"{BASE}/tenants/{t.id}", headers={**op, "If-Match": etag}, json=body)
    assert r.status_code == 200, r.text
    assert accounts.put(f"{BASE}/tenants/{t.id}", headers={**op, "If-Match": etag}, json=body).status_code == 412
    term = accounts.get(f"{BASE}/tenants/{t.id}/termination", headers=op).json()
    assert (term["accounts_disabled_on"], term["accounts_deleted_on"]) == ("2027-01-04", "2027-01-04")
    wait_for(lambda: True)
