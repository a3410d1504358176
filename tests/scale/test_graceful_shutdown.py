"""SIGTERM to a service process (shared/serving.py, what `python -m ops.serve <name>` and `make run`
use): /readyz answers 503 at once while requests are still served for the drain, then the process
stops listening and exits on its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.settings import CommonSettings
from tests.support.nats_server import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["accounts", "gateway"])
def test_sigterm_turns_readiness_off_at_once_then_drains_and_exits(settings: CommonSettings, tmp_path: Path,
                                                                   name: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUMU_") and k != "NATS_URL"}
    env.update({"ROUMU_VAR_DIR": str(settings.var_dir), "ROUMU_KEYS_DIR": str(settings.keys_dir),
                "NATS_URL": settings.nats_url, "ROUMU_NATS_STREAM": settings.nats_stream,
                "ROUMU_DATABASE_URL_TEMPLATE": settings.database_url_template, "ROUMU_ACCOUNTS_PORT": str(port),
                "ROUMU_GATEWAY_PORT": str(port),
                # Long enough to look at the draining process; it ends with the drain, not before.
                "ROUMU_SHUTDOWN_DRAIN_SECONDS": "4"})
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen([sys.executable, "-m", "ops.serve", name], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=5) as c:
            deadline = time.monotonic() + 90  # a guard against a hang
            while True:
                assert proc.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                try:
                    if c.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)

            proc.send_signal(signal.SIGTERM)
            # The very next look says not ready; the process still answers everything else.
            ready = c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["detail"] == "停止処理中です"
            # Still serving: a service its /healthz, the gateway its partner contract.
            assert c.get("/healthz" if name != "gateway" else "/api/v1/partner/openapi.json").status_code == 200
            assert proc.poll() is None

        proc.wait(60)  # then it stops listening and exits by itself
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz", timeout=2)
        if name != "gateway":  # the gateway configures no uvicorn logging
            assert "Application shutdown complete" in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
