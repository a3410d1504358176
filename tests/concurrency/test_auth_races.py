"""Races on auth's check-then-write paths, with real parallel requests (issue 29). Meant for
PostgreSQL, where the requests really overlap; on SQLite writes are serialised and the same
invariants must hold anyway."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.auth.conftest import API, CHEAP, Tenant, strong
from tests.concurrency.harness import covers

REFRESH = f"{API}/token/refresh"
N = 10


@pytest.fixture
def tenant(service_client, clock) -> Tenant:
    client: TestClient = service_client("auth", clock=clock, passwords=CHEAP)
    return Tenant(client, str(uuid.uuid4()), f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture
def clock():  # the auth tests' frozen clock
    from datetime import UTC, datetime

    from shared.clock import FrozenClock
    return FrozenClock(datetime.now(UTC))


def _all_at_once(n: int, call: Any) -> list[Any]:
    start = threading.Barrier(n)

    def one(_: int) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@covers("POST /api/v1/auth/token/refresh")
def test_one_refresh_token_presented_in_parallel_rotates_once(tenant):
    """29.6: ten parallel refreshes of one token gave ten usable refresh tokens. Now at most one
    wins; the others are a replay (reuse), which ends the session, so no forked token survives."""
    pw = strong()
    tenant.add_user("hirano", pw)
    first = tenant.token("hirano", pw)
    answers = _all_at_once(N, lambda: tenant.client.post(REFRESH, json={"refresh_token": first["refresh_token"]}))
    codes = [r.status_code for r in answers]
    assert all(c in (200, 401) for c in codes), [r.text for r in answers]
    assert codes.count(200) <= 1, codes
    # Every token handed out is now dead: the concurrent replays counted as reuse.
    for r in answers:
        if r.status_code == 200:
            again = tenant.client.post(REFRESH, json={"refresh_token": r.json()["refresh_token"]})
            assert again.status_code == 401, again.text
    revoked = [e for e in tenant.events("roumu.auth.session.revoked")
               if e["subject"]["session_id"] == first["session_id"]]
    assert [e["data"]["reason"] for e in revoked] == ["refresh_reuse"]
