"""Issue 18.8: a disabled partner client's token kept working for up to 10 minutes. Partner
tokens now carry a revocable id (`sid`, like user sessions); disabling the client or rotating its
secret revokes it through roumu.auth.session.revoked, which every service follows."""

from __future__ import annotations

import time

from shared.tokens import TokenVerifier
from tests.auth.conftest import API, bearer, strong

TOKEN = f"{API}/oauth/token"
PERSONS = "/api/v1/koyo-hoken/insured-persons"


def _client(tenant, admin: str) -> tuple[str, str]:
    r = tenant.client.post(f"{API}/partner-clients", headers=bearer(admin),
                           json={"name": "給与システム", "scopes": ["employees:read"]})
    assert r.status_code == 201, r.text
    return r.json()["client_id"], r.json()["client_secret"]


def _token(tenant, client_id: str, secret: str) -> str:
    r = tenant.client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def _refused_within(service, token: str, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while (code := service.get(PERSONS, headers=bearer(token)).status_code) != 401:
        assert code == 200 and time.monotonic() < deadline, f"token still accepted ({code})"
        time.sleep(0.05)


def test_disabling_or_rotating_a_client_ends_its_tokens_in_every_service(tenant, service_client, settings):
    koyo = service_client("koyo_hoken")
    admin_pw = strong("admin")
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss", admin_pw)["access_token"]

    rotated_id, rotated_secret = _client(tenant, admin)
    old = _token(tenant, rotated_id, rotated_secret)
    sid = TokenVerifier(settings.keys_dir).verify_access(old).claims.get("sid")
    assert sid, "a partner token must carry a revocable id"
    assert koyo.get(PERSONS, headers=bearer(old)).status_code == 200
    r = tenant.client.post(f"{API}/partner-clients/{rotated_id}/secret", headers=bearer(admin))
    assert r.status_code == 200, r.text
    _refused_within(koyo, old)
    fresh = _token(tenant, rotated_id, r.json()["client_secret"])
    assert koyo.get(PERSONS, headers=bearer(fresh)).status_code == 200

    disabled_id, disabled_secret = _client(tenant, admin)
    token = _token(tenant, disabled_id, disabled_secret)
    assert koyo.get(PERSONS, headers=bearer(token)).status_code == 200
    assert tenant.client.delete(f"{API}/partner-clients/{disabled_id}", headers=bearer(admin)).status_code == 204
    _refused_within(koyo, token)
    reasons = {e["data"]["reason"] for e in tenant.events("roumu.auth.session.revoked")
               if e["subject"].get("client_id") in (rotated_id, disabled_id)}
    assert reasons == {"partner_secret_rotated", "partner_client_disabled"}


def test_changing_a_clients_scopes_ends_its_tokens_and_new_ones_carry_the_new_scopes(tenant, service_client,
                                                                                       settings):
    """Issue #20: scopes could not be changed; a scope taken away must not outlive the change."""
    koyo = service_client("koyo_hoken")
    admin_pw = strong("admin")
    tenant.add_user("boss3", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss3", admin_pw)["access_token"]
    client_id, secret = _client(tenant, admin)
    old = _token(tenant, client_id, secret)
    assert koyo.get(PERSONS, headers=bearer(old)).status_code == 200
    r = tenant.client.put(f"{API}/partner-clients/{client_id}/scopes", headers=bearer(admin),
                          json={"scopes": ["filings:read", "filings:read"]})
    assert r.status_code == 200, r.text
    assert r.json()["scopes"] == ["filings:read"]
    _refused_within(koyo, old)
    fresh = TokenVerifier(settings.keys_dir).verify_access(_token(tenant, client_id, secret))
    assert fresh.scopes == {"filings:read"}
    reasons = [e["data"]["reason"] for e in tenant.events("roumu.auth.session.revoked")
               if e["subject"].get("client_id") == client_id]
    assert reasons == ["partner_scopes_changed"]
    updated = [e for e in tenant.events("roumu.auth.partner_client.updated")
               if e["subject"].get("client_id") == client_id]
    assert [e["data"]["scopes"] for e in updated] == [["filings:read"]]
    assert updated[0]["actor"]["id"]
