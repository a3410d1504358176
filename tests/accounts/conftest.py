"""Accounts tests: open tenants through the API as an operator, act as their users."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tokens, bearer

BASE = "/api/v1/accounts"


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until truthy; a functional bound (events cross NATS), not a performance assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class OpenTenant:
    id: str
    code: str
    admin_id: str
    admin_token: str


def open_tenant(client: TestClient, tokens: Tokens, **over: Any) -> OpenTenant:
    code = over.pop("code", f"t-{uuid.uuid4().hex[:10]}")
    body = {"code": code, "name": "テスト社会保険労務士事務所", "kind": "both", "contract_start": "2026-04-01",
            "admin": {"login_id": "admin", "display_name": "管理者"}, **over}
    r = client.post(f"{BASE}/tenants", headers=bearer(tokens.operator()), json=body)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    users = client.get(f"{BASE}/users", headers=bearer(tokens.user(tid, "bootstrap", ("tenant_admin",))))
    assert users.status_code == 200, users.text
    [admin] = users.json()["items"]
    return OpenTenant(tid, code, admin["id"], tokens.user(tid, admin["id"], ("tenant_admin",)))


def add_user(client: TestClient, t: OpenTenant, tokens: Tokens, login_id: str, menus: dict[str, str],
             jigyosho: dict[str, Any] | None = None, roles: tuple[str, ...] = ("staff",)) -> tuple[dict[str, Any], str]:
    r = client.post(f"{BASE}/users", headers=bearer(t.admin_token),
                    json={"login_id": login_id, "display_name": "担当者", "roles": list(roles),
                          "grants": {"menus": menus, "jigyosho": jigyosho or {"all": True, "ids": []}}})
    assert r.status_code == 201, r.text
    return r.json(), tokens.user(t.id, r.json()["id"], roles)


def jigyosho_body(name: str = "株式会社山田製作所", **over: Any) -> dict[str, Any]:
    return {"name": name, "name_kana": "カブシキガイシャヤマダセイサクショ", "address": "東京都千代田区千代田1-1",
            "postal_code": "100-0001", "labour_insurance_number": "13-1-01-912340-001",
            "employment_insurance_office_number": "1301-123456-7", "rousai_gyoshu_code": "94",
            "koyo_jigyo_kubun": "ippan", "headcount": 12,
            "contacts": [{"name": "山田 花子", "role": "総務", "phone": "03-1234-5678"}], **over}


def add_jigyosho(client: TestClient, t: OpenTenant, name: str = "株式会社山田製作所") -> str:
    r = client.post(f"{BASE}/jigyosho", headers=bearer(t.admin_token), json=jigyosho_body(name))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture
def accounts(service_client: Callable[..., TestClient]) -> TestClient:
    return service_client("accounts")
