"""/healthz on the gateway names every routed service, up or down; /readyz and /metrics answer."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import SERVICE_NAMES


def test_healthz_all_up(start_gateway, echo):
    _, echo_url = echo
    gw = start_gateway(dict.fromkeys(SERVICE_NAMES, echo_url))
    r = httpx.get(f"{gw}/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "services": dict.fromkeys(SERVICE_NAMES, "up")}


def test_healthz_degraded_lists_each_service_by_name(start_gateway, echo, accounts_url):
    _, echo_url = echo
    up = {"accounts": accounts_url, "koyo_hoken": echo_url}
    gw = start_gateway(up)  # the rest point at a dead port
    r = httpx.get(f"{gw}/healthz")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == "degraded" and body["request_id"] == r.headers["x-request-id"]
    assert body["services"] == {n: "up" if n in up else "down" for n in SERVICE_NAMES}
    assert "egov_sandbox" not in body["services"]


def test_readyz_and_metrics(start_gateway):
    gw = start_gateway()
    assert httpx.get(f"{gw}/readyz").json() == {"status": "ready", "service": "gateway"}
    httpx.get(f"{gw}/api/v1/accounts/x")
    metrics = httpx.get(f"{gw}/metrics").text
    # Labelled by route template, never by raw path.
    assert 'route="/api/v1/accounts/{path}"' in metrics and "/api/v1/accounts/x" not in metrics
