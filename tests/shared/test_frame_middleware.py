"""The services' one ASGI layer (shared/frame_middleware.py, issue #22: it replaced three) still
does what the three did: the request id read or made and echoed, each request counted and timed by
route template with the status sent — a 500 answered for an escaped exception included — as read
back from the service's own /metrics in the Prometheus text format (prometheus_client's parser)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import MetaData

from shared.outbox import Messaging
from shared.service_app import create_service_app
from shared.settings import CommonSettings

router = APIRouter()


@router.get("/frame-items/{item_id}")
def item(item_id: str) -> dict[str, str]:
    return {"id": item_id}


@router.get("/frame-boom")
def boom() -> None:
    raise RuntimeError("an unforeseen failure")


@pytest.fixture
def client(settings: CommonSettings) -> Iterator[TestClient]:
    app = create_service_app("jimukumiai", Messaging(MetaData()), [router], settings=settings, background=False,
                             purge=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def counts(client: TestClient) -> tuple[dict[tuple[str, str, str], float], dict[tuple[str, str], float]]:
    requests: dict[tuple[str, str, str], float] = {}
    timed: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.labels.get("service") != "jimukumiai":
                continue
            if s.name == "roumu_http_requests_total":
                requests[(s.labels["method"], s.labels["route"], s.labels["status"])] = s.value
            elif s.name == "roumu_http_request_seconds_count":
                timed[(s.labels["method"], s.labels["route"])] = s.value
    return requests, timed


def test_requests_are_counted_by_route_template_and_status_with_their_request_id(client: TestClient) -> None:
    before, timed_before = counts(client)
    r = client.get("/frame-items/a1", headers={"X-Request-Id": "caller-id-7"})
    assert r.status_code == 200 and r.json() == {"id": "a1"} and r.headers["x-request-id"] == "caller-id-7"
    client.get("/frame-items/a2", headers={"X-Request-Id": "not an id; <script>"})
    bad = client.get("/frame-boom")
    assert bad.status_code == 500 and bad.json()["request_id"] == bad.headers["x-request-id"]
    missing = client.get("/no-such-route")
    assert missing.status_code == 404 and missing.headers["x-request-id"]
    after, timed_after = counts(client)

    def grew(key: tuple[str, str, str]) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert grew(("GET", "/frame-items/{item_id}", "200")) == 2
    assert grew(("GET", "/frame-boom", "500")) == 1
    assert grew(("GET", "unmatched", "404")) == 1
    assert timed_after[("GET", "/frame-items/{item_id}")] - timed_before.get(("GET", "/frame-items/{item_id}"), 0) == 2
    assert not any(route.startswith("/frame-items/a") for _, route, _ in after)  # never the raw path


def test_a_request_id_that_is_not_an_id_is_replaced(client: TestClient) -> None:
    r = client.get("/frame-items/x", headers={"X-Request-Id": "not an id; <script>"})
    rid = r.headers["x-request-id"]
    assert rid != "not an id; <script>" and len(rid) == 32 and int(rid, 16) >= 0
