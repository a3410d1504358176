"""Issue 27 item 1: an administrator grants and revokes `my_number_unmasked` through the gateway.

The grant travels as roumu.accounts.user.permissions_changed (the menu *name* mentions My Number,
the value is a level): the event's secret check must not mistake it for a number. Real services
(accounts, auth, koyo_hoken, audit_log with their relays and consumers on the test NATS) behind the
real gateway."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from shared.db import Database
from shared.settings import CommonSettings
from tests.gateway.support import ServerThread
from tests.security.world import PASSWORD, SEEDER, person_body

NUMBER = "123456789018"  # a valid check digit


def until(send: Callable[[], httpx.Response], ok: Callable[[httpx.Response], bool],
          timeout: float = 20.0) -> httpx.Response:
    """Send until `ok` (events reach the other services' read models a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        r = send()
        if ok(r) or time.monotonic() >= deadline:
            return r
        time.sleep(0.1)


@pytest.fixture(scope="module")
def services(settings: CommonSettings) -> Iterator[dict[str, str]]:
    from services.accounts.app import create_app as accounts
    from services.audit_log.app import create_app as audit_log
    from services.auth.app import create_app as auth
    from services.koyo_hoken.app import create_app as koyo_hoken

    makers: dict[str, Callable[..., Any]] = {"accounts": accounts, "auth": auth, "koyo_hoken": koyo_hoken,
                                             "audit_log": audit_log}
    servers = {name: ServerThread(make(settings=settings), http="httptools").start() for name, make in makers.items()}
    yield {name: s.url for name, s in servers.items()}
    for s in servers.values():
        s.stop()


def provision(settings: CommonSettings, tenant_id: str, code: str, user_id: str, login_id: str,
              roles: list[str]) -> None:
    """A password in auth (what the API cannot make, as tests/security/world does). auth's consumer
    may apply accounts' events for the same tenant and user at the same moment (provision is a
    check-then-insert): a unique violation is retried."""
    from sqlalchemy.exc import IntegrityError

    from services.auth import service as auth_service

    auth_db = Database(settings.database_url("auth"))
    try:
        for attempt in range(5):
            try:
                with auth_db.transaction() as s:
                    auth_service.provision(s, tenant_id, code, user_id, login_id, roles, PASSWORD)
                return
            except IntegrityError:
                if attempt == 4:
                    raise
                time.sleep(0.2)
    finally:
        auth_db.dispose()


def open_tenant(settings: CommonSettings) -> tuple[str, str]:
    """A tenant and its administrator (accounts, directly like ops.seed), with a password: (id, code)."""
    from datetime import date

    from services.accounts import service as accounts_service
    from services.accounts.schemas import TenantCreate, UserCreate

    code = f"grant-{uuid.uuid4().hex[:8]}"
    accounts_db = Database(settings.database_url("accounts"))
    try:
        with accounts_db.transaction() as s:
            tenant = accounts_service.create_tenant(s, TenantCreate(
                code=code, name="付与試験", kind="both", contract_start=date(2024, 4, 1)), SEEDER)
            admin = accounts_service.create_user(s, tenant.id, UserCreate(
                login_id="admin", display_name="管理者", roles=["tenant_admin"]), SEEDER)
            tenant_id, admin_id = tenant.id, admin.id
    finally:
        accounts_db.dispose()
    provision(settings, tenant_id, code, admin_id, "admin", ["tenant_admin"])
    return tenant_id, code


def login(c: httpx.Client, code: str, login_id: str) -> dict[str, str]:
    r = c.post("/api/v1/auth/login", json={"tenant_code": code, "login_id": login_id, "password": PASSWORD},
               headers={"X-Forwarded-For": f"192.0.2.{uuid.uuid4().int % 250 + 1}"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_admin_grants_and_revokes_the_unmasked_view(settings: CommonSettings, services: dict[str, str],
                                                    start_gateway: Callable[..., str]) -> None:
    gateway = start_gateway(services)
    tenant_id, code = open_tenant(settings)
    with httpx.Client(base_url=gateway, timeout=30) as c:
        admin = login(c, code, "admin")
        js = c.post("/api/v1/accounts/jigyosho", headers=admin, json={
            "name": "株式会社山田製作所", "name_kana": "カブシキガイシャヤマダ", "address": "東京都千代田区1-1"})
        assert js.status_code == 201, js.text
        jigyosho_id = js.json()["id"]
        person = until(lambda: c.post("/api/v1/koyo-hoken/insured-persons", headers=admin,
                                      json=person_body(jigyosho_id, my_number=NUMBER)),
                       lambda r: r.status_code != 404)
        assert person.status_code == 201, person.text
        person_id = person.json()["id"]

        grants = {"menus": {"koyo_hoken": "read", "my_number_unmasked": "read"},
                  "jigyosho": {"all": False, "ids": [jigyosho_id]}}
        made = c.post("/api/v1/accounts/users", headers=admin,
                      json={"login_id": "viewer", "display_name": "閲覧者", "roles": ["staff"], "grants": grants})
        assert made.status_code == 201, made.text  # 500 before the fix: the menu name read as a secret
        user = made.json()
        assert user["grants"]["menus"]["my_number_unmasked"] == "read"
        provision(settings, tenant_id, code, user["id"], "viewer", ["staff"])
        viewer = login(c, code, "viewer")

        path = f"/api/v1/koyo-hoken/insured-persons/{person_id}/my-number"
        seen = until(lambda: c.get(path, headers=viewer), lambda r: r.status_code == 200)
        assert seen.status_code == 200, seen.text
        assert seen.json()["my_number"] == NUMBER
        views = until(lambda: c.get("/api/v1/audit-log/my-number-views", headers=admin,
                                    params={"person_id": person_id}),
                      lambda r: r.status_code == 200 and any(i["actor_id"] == user["id"] for i in r.json()["items"]))
        assert any(i["actor_id"] == user["id"] for i in views.json()["items"]), views.text

        # Revoked: the same PUT without the menu (If-Match), and the number is refused again.
        current = c.get(f"/api/v1/accounts/users/{user['id']}", headers=admin)
        revoke = c.put(f"/api/v1/accounts/users/{user['id']}", headers={**admin, "If-Match": current.headers["etag"]},
                       json={"login_id": "viewer", "display_name": "閲覧者", "roles": ["staff"],
                             "grants": {**grants, "menus": {"koyo_hoken": "read"}}})
        assert revoke.status_code == 200, revoke.text
        assert "my_number_unmasked" not in revoke.json()["grants"]["menus"]
        # A grant change ends the user's sessions (issue 18 item 2): the old token stops working, and
        # a new login (after that) is refused the number.
        ended = until(lambda: c.get(path, headers=viewer), lambda r: r.status_code == 401)
        assert ended.status_code == 401, ended.text
        viewer = login(c, code, "viewer")
        refused = until(lambda: c.get(path, headers=viewer), lambda r: r.status_code == 403)
        assert refused.status_code == 403, refused.text
        assert NUMBER not in refused.text
        assert c.get(f"/api/v1/koyo-hoken/insured-persons/{person_id}", headers=viewer).status_code == 200
