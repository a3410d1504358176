"""Liveness, readiness and metrics of every service."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shared.topology import SERVICES
from tests.conftest import create_app
from tests.support.nats_server import NatsServer

SERVICE_NAMES = [s.name for s in SERVICES if (Path(__file__).parents[1] / "services" / s.name / "app.py").exists()]


def wait_status(client: TestClient, path: str, status: int, limit_s: float = 15.0):
    deadline = time.monotonic() + limit_s
    while True:
        r = client.get(path)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_health_ready_metrics(name, settings):
    with TestClient(create_app(name, settings)) as c:
        assert c.get("/healthz").json() == {"status": "ok", "service": name}
        r = wait_status(c, "/readyz", 200)
        assert r.status_code == 200, r.text
        assert r.json()["checks"] == {"database": "ok", "nats": "ok"}
        metrics = c.get("/metrics")
        assert metrics.status_code == 200
        assert "roumu_http_requests_total" in metrics.text


@pytest.mark.slow
def test_readyz_reports_nats_down_and_recovers(settings, tmp_path):
    own = NatsServer(tmp_path / "nats")
    own.start()
    try:
        s = settings.model_copy(update={"nats_url": own.url})
        with TestClient(create_app("accounts", s)) as c:
            assert wait_status(c, "/readyz", 200).status_code == 200
            own.stop()
            down = wait_status(c, "/readyz", 503)
            assert down.status_code == 503
            assert down.headers["content-type"].startswith("application/problem+json")
            assert down.json()["checks"]["nats"] == "down"
            assert down.json()["request_id"]
            assert c.get("/healthz").status_code == 200  # alive, only not ready
            own.start()
            assert wait_status(c, "/readyz", 200).status_code == 200
    finally:
        own.stop()
