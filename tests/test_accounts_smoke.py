from tests.conftest import bearer


def test_operator_creates_tenant_and_admin_creates_user(service_client, tokens):
    c = service_client("accounts")
    r = c.post("/api/v1/accounts/tenants", headers=bearer(tokens.operator()),
               json={"code": "smoke-1", "name": "テスト事務所", "kind": "sharoushi", "contract_start": "2026-04-01"})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    r = c.post("/api/v1/accounts/users", headers=bearer(tokens.user(tid, roles=("tenant_admin",))),
               json={"login_id": "tanaka", "display_name": "田中"})
    assert r.status_code == 201, r.text
    r2 = c.get(f"/api/v1/accounts/users/{r.json()['id']}", headers=bearer(tokens.user("other-tenant")))
    assert r2.status_code == 404
    assert r2.headers["content-type"].startswith("application/problem+json")
