"""The skeleton end to end inside the services: seed, login, an event flowing to audit-log."""

import time
import uuid

from ops.seed import seed_demo
from tests.conftest import bearer


def wait_for(predicate, timeout=15.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_seed_login_and_audit_trail(service_client, settings):
    demo = seed_demo(settings, password="correct horse battery staple")
    again = seed_demo(settings)
    assert again.password is None and again.tenant_code == demo.tenant_code  # second run keeps data

    auth = service_client("auth")
    audit = service_client("audit_log")
    service_client("accounts")  # its relay publishes the seed's events

    # A source address of this test's own: auth throttles failures per source, and other tests of
    # the session fail logins from the test client's default address.
    src = {"X-Roumu-Client-IP": f"192.0.2.{uuid.uuid4().int % 250 + 1}"}
    bad = auth.post("/api/v1/auth/login", headers=src,
                    json={"tenant_code": "demo", "login_id": "admin", "password": "nope"})
    unknown = auth.post("/api/v1/auth/login", headers=src,
                        json={"tenant_code": "nope", "login_id": "x", "password": "nope"})
    assert bad.status_code == unknown.status_code == 401
    assert bad.json()["type"] == unknown.json()["type"]  # no enumeration
    assert "nope" not in bad.text

    r = auth.post("/api/v1/auth/login", headers=src, json={"tenant_code": "demo", "login_id": "admin",
                                              "password": "correct horse battery staple"})
    assert r.status_code == 200, r.text
    assert r.json()["previous_login"] is None
    token = r.json()["access_token"]
    r2 = auth.post("/api/v1/auth/login", headers=src, json={"tenant_code": "demo", "login_id": "admin",
                                               "password": "correct horse battery staple"})
    assert r2.json()["previous_login"]["at"]  # the sheet's 最終ログイン日時

    def logins():
        page = audit.get("/api/v1/audit-log/entries?type=roumu.auth.login.succeeded", headers=bearer(token))
        assert page.status_code == 200, page.text
        return len(page.json()["items"]) >= 2 and page.json()["items"]

    items = wait_for(logins)
    assert all(i["type"] == "roumu.auth.login.succeeded" for i in items)
    all_entries = audit.get("/api/v1/audit-log/entries", headers=bearer(token)).json()["items"]
    types = {i["type"] for i in all_entries}
    assert {"roumu.accounts.tenant.created", "roumu.accounts.user.created", "roumu.auth.login.failed"} <= types
    assert "correct horse" not in str(all_entries)


def test_audit_entries_need_admin(service_client, tokens):
    audit = service_client("audit_log")
    r = audit.get("/api/v1/audit-log/entries", headers=bearer(tokens.user("t-x")))
    assert r.status_code == 403
    assert r.json()["title"] == "この操作を行う権限がありません"
    assert audit.get("/api/v1/audit-log/entries").status_code == 401
