"""Partner clients: OAuth2 client credentials per tenant, hashed and rotatable secrets, scopes."""

from __future__ import annotations

import uuid

from services.auth.models import PartnerClient
from shared.tokens import TokenVerifier
from tests.auth.conftest import API, Tenant, bearer, strong

TOKEN = f"{API}/oauth/token"


def test_client_credentials_scopes_rotation_and_disable(tenant, auth, settings):
    admin_pw = strong("admin")
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss", admin_pw)["access_token"]
    r = tenant.client.post(f"{API}/partner-clients", headers=bearer(admin),
                           json={"name": "従業員ポータル", "scopes": ["employees:read", "mynumber:write"]})
    assert r.status_code == 201, r.text
    client_id, secret = r.json()["client_id"], r.json()["client_secret"]
    with tenant.rt.db.transaction() as s:
        stored = s.get(PartnerClient, client_id)
        assert secret not in stored.secret_hash and len(stored.secret_hash) == 64

    ok = tenant.client.post(TOKEN, data={"grant_type": "client_credentials", "scope": "employees:read"},
                            auth=(client_id, secret))
    assert ok.status_code == 200, ok.text
    p = TokenVerifier(settings.keys_dir).verify_access(ok.json()["access_token"])
    assert p.kind == "partner" and p.tenant_id == tenant.tenant_id and p.scopes == {"employees:read"}
    full = tenant.client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": client_id,
                                           "client_secret": secret})
    assert full.json()["scope"] == "employees:read mynumber:write"
    not_held = tenant.client.post(TOKEN, data={"grant_type": "client_credentials", "scope": "filings:write"},
                                  auth=(client_id, secret))
    assert not_held.status_code == 400 and not_held.json()["error"] == "invalid_scope"
    wrong = tenant.client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(client_id, "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unknown_scope = tenant.client.post(f"{API}/partner-clients", headers=bearer(admin),
                                       json={"name": "x", "scopes": ["root"]})
    assert unknown_scope.status_code == 400

    rotated = tenant.client.post(f"{API}/partner-clients/{client_id}/secret", headers=bearer(admin))
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert tenant.client.post(TOKEN, data={"grant_type": "client_credentials"},
                              auth=(client_id, secret)).status_code == 401
    assert tenant.client.post(TOKEN, data={"grant_type": "client_credentials"},
                              auth=(client_id, new_secret)).status_code == 200

    other = Tenant(auth, str(uuid.uuid4()), f"o{uuid.uuid4().hex[:8]}")
    other.add_user("boss", admin_pw, roles=("tenant_admin",))
    other_admin = other.token("boss", admin_pw)["access_token"]
    assert other.client.post(f"{API}/partner-clients/{client_id}/secret",
                             headers=bearer(other_admin)).status_code == 404
    assert other.client.get(f"{API}/partner-clients", headers=bearer(other_admin)).json() == []

    assert tenant.client.delete(f"{API}/partner-clients/{client_id}", headers=bearer(admin)).status_code == 204
    assert tenant.client.post(TOKEN, data={"grant_type": "client_credentials"},
                              auth=(client_id, new_secret)).status_code == 401
    types = [e["type"] for e in tenant.events() if e["subject"].get("client_id") == client_id]
    # (each rotation and the disabling also revoke the tokens issued before: roumu.auth.session.revoked)
    assert [t for t in types if t != "roumu.auth.session.revoked"] == [
        "roumu.auth.partner_client.created", "roumu.auth.partner_client.rotated",
        "roumu.auth.partner_client.disabled"]
    assert types.count("roumu.auth.session.revoked") == 2
    assert secret not in str(tenant.events()) and new_secret not in str(tenant.events())


def test_service_tokens_between_services(tokens, auth):
    """Internal calls carry a service token (shared.tokens.service_token) addressed to the callee."""
    r = auth.get(f"{API}/device-cas", headers=bearer(tokens.service("gateway", "auth")))
    assert r.status_code == 200 and isinstance(r.json()["certificates"], list)
    assert auth.get(f"{API}/device-cas", headers=bearer(tokens.service("files", "auth"))).status_code == 403
    assert auth.get(f"{API}/device-cas", headers=bearer(tokens.service("gateway", "files"))).status_code == 401


def test_jigyosho_granted_to_a_client_is_carried_by_its_tokens(tenant, auth, settings):
    admin_pw = strong("admin")
    tenant.add_user("boss2", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss2", admin_pw)["access_token"]
    r = tenant.client.post(f"{API}/partner-clients", headers=bearer(admin),
                           json={"name": "portal", "scopes": ["employees:write"], "jigyosho_ids": ["js-b", "js-a"]})
    assert r.status_code == 201, r.text
    assert r.json()["jigyosho_ids"] == ["js-a", "js-b"]
    client_id, secret = r.json()["client_id"], r.json()["client_secret"]
    verifier = TokenVerifier(settings.keys_dir)

    def claim() -> object:
        tok = tenant.client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        assert tok.status_code == 200, tok.text
        return verifier.verify_access(tok.json()["access_token"]).claims.get("jigyosho_ids")

    assert claim() == ["js-a", "js-b"]
    changed = tenant.client.put(f"{API}/partner-clients/{client_id}/jigyosho", headers=bearer(admin),
                                json={"jigyosho_ids": None})
    assert changed.status_code == 200 and changed.json()["jigyosho_ids"] is None
    assert claim() is None  # every 事業所
    other = Tenant(auth, str(uuid.uuid4()), f"o{uuid.uuid4().hex[:8]}")
    other.add_user("boss", admin_pw, roles=("tenant_admin",))
    other_admin = other.token("boss", admin_pw)["access_token"]
    assert other.client.put(f"{API}/partner-clients/{client_id}/jigyosho", headers=bearer(other_admin),
                            json={"jigyosho_ids": ["x"]}).status_code == 404


def test_scope_change_refuses_bad_input_and_other_tenants(tenant, auth):
    admin_pw = strong("admin")
    tenant.add_user("boss4", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss4", admin_pw)["access_token"]
    r = tenant.client.post(f"{API}/partner-clients", headers=bearer(admin),
                           json={"name": "portal", "scopes": ["employees:read"]})
    client_id = r.json()["client_id"]
    url = f"{API}/partner-clients/{client_id}/scopes"
    unknown = tenant.client.put(url, headers=bearer(admin), json={"scopes": ["employees:read", "root"]})
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_scope"
    assert tenant.client.put(url, headers=bearer(admin), json={"scopes": []}).status_code == 422
    listed = tenant.client.get(f"{API}/partner-clients", headers=bearer(admin)).json()
    assert [c["scopes"] for c in listed if c["client_id"] == client_id] == [["employees:read"]]  # unchanged
    tenant.add_user("staff4", admin_pw)
    staff = tenant.token("staff4", admin_pw)["access_token"]
    assert tenant.client.put(url, headers=bearer(staff), json={"scopes": ["filings:read"]}).status_code == 403
    other = Tenant(auth, str(uuid.uuid4()), f"o{uuid.uuid4().hex[:8]}")
    other.add_user("boss", admin_pw, roles=("tenant_admin",))
    other_admin = other.token("boss", admin_pw)["access_token"]
    assert other.client.put(url, headers=bearer(other_admin), json={"scopes": ["filings:read"]}).status_code == 404
    assert tenant.client.delete(f"{API}/partner-clients/{client_id}", headers=bearer(admin)).status_code == 204
    assert tenant.client.put(url, headers=bearer(admin), json={"scopes": ["filings:read"]}).status_code == 404


def test_a_token_request_missing_a_field_is_rfc6749_invalid_request(tenant, auth):
    """Issue #28: a missing grant_type answered FastAPI's 422; RFC 6749 5.2 says 400 invalid_request."""
    missing = tenant.client.post(TOKEN, data={"scope": "employees:read"}, auth=("client", "secret"))
    assert missing.status_code == 400, missing.text
    assert missing.headers["content-type"] == "application/problem+json"
    body = missing.json()
    assert body["error"] == "invalid_request" and body["type"].endswith("/invalid-request")
    assert "grant_type" in body["detail"] and "secret" not in missing.text
    other = tenant.client.post(TOKEN, data={"grant_type": "password"}, auth=("client", "secret"))
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"
