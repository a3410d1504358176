"""A jimukumiai client for one fresh tenant, with a frozen clock."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.clock import FrozenClock
from tests.conftest import bearer
from tests.support.jigyosho import JigyoshoSeeder, jigyosho  # noqa: F401 - the 事業所 master seeder fixture

BASE = "/api/v1/jimukumiai"
# The 事業所 the `api` fixture's tenant has in the accounts master (applied to jimukumiai's read model).
JIGYOSHO = ("js-1", "js-2", "js-9")
_numbers = itertools.count(1)


def member_body(**over: Any) -> dict[str, Any]:
    body = {"jigyosho_id": "js-1", "name": "株式会社山田商店",
            "labour_insurance_number": f"13101{next(_numbers) % 1_000_000:06d}000", "entrusted_from": "2020-04-01",
            "regular_workers": 12, "main_business": "other", "rousai_code": "94", "koyo_kubun": "ippan"}
    return {**body, **over}


class Api:
    def __init__(self, client, headers, tenant, clock, seeder=None):
        self.client, self.headers, self.tenant, self.clock = client, headers, tenant, clock
        self.jigyosho: JigyoshoSeeder | None = seeder

    def call(self, method: str, path: str, expect: int | None = 200, **kw: Any):
        headers = {**self.headers, **kw.pop("headers", {})}
        r = self.client.request(method, f"{BASE}{path}", headers=headers, **kw)
        if expect is not None:
            assert r.status_code == expect, r.text
        return r

    def post(self, path: str, body: Any = None, expect: int | None = 200, **kw: Any) -> Any:
        return self.call("POST", path, expect, json=body, **kw).json()

    def get(self, path: str, expect: int | None = 200, **kw: Any) -> Any:
        return self.call("GET", path, expect, **kw).json()

    def member(self, **over: Any) -> dict[str, Any]:
        created: dict[str, Any] = self.post("/members", member_body(**over), 201)
        return created


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2025, 6, 2, 1, 0, tzinfo=UTC))  # 2025-06-02 10:00 JST


@pytest.fixture
def api(service_client, tokens, clock, jigyosho: JigyoshoSeeder) -> Api:  # noqa: F811
    tenant = str(uuid.uuid4())
    jigyosho.open(tenant, *JIGYOSHO, services=("jimukumiai",))
    c = service_client("jimukumiai", clock=clock)
    return Api(c, bearer(tokens.user(tenant, roles=("tenant_admin",))), tenant, clock, jigyosho)
