"""`make run` for real: the whole stack as separate processes (ops.devrun, what `make run`
calls), reached through the gateway only. Uses the embedded default (SQLite files, a nats-server
from the wheel) whatever database the rest of the suite runs on: that is what make run promises."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nats
import pytest

from shared.topology import ROUTED, SERVICES
from tests.support.nats_server import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-demo-password-長い"


def stack_env(var_dir: Path, gateway_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ROUMU_") and k not in ("NATS_URL",)}
    env.update({"ROUMU_VAR_DIR": str(var_dir), "ROUMU_GATEWAY_PORT": str(gateway_port),
                "ROUMU_DEMO_ADMIN_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"})
    for s in SERVICES:
        env[f"ROUMU_{s.name.upper()}_PORT"] = str(free_port())
    return env


class Stack:
    def __init__(self, var_dir: Path) -> None:
        self.gateway_port = free_port()
        self.env = stack_env(var_dir, self.gateway_port)
        self.url = f"http://127.0.0.1:{self.gateway_port}"
        self.log = var_dir.parent / f"devrun-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "ops.devrun"], cwd=ROOT, env=self.env,
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("devrun exited early:\n" + self.log.read_text()[-3000:])
            if "Roumu is running" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.25)
        self.stop()
        raise AssertionError("stack did not start:\n" + self.log.read_text()[-3000:])

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def ports(self) -> list[int]:
        return [self.gateway_port] + [int(self.env[f"ROUMU_{s.name.upper()}_PORT"]) for s in SERVICES]


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def login(client: httpx.Client) -> httpx.Response:
    return client.post("/api/v1/auth/login",
                       json={"tenant_code": "demo", "login_id": "admin", "password": PASSWORD})


def post_routes_without_path_params(service: str) -> list[str]:
    doc = json.loads((ROOT / "contracts" / "openapi" / f"{service}.json").read_text())
    # Only operations that read a JSON body: a body-less POST (logout) would just succeed.
    return [p for p, ops in doc["paths"].items()
            if "post" in ops and "{" not in p
            and "application/json" in ops["post"].get("requestBody", {}).get("content", {})]


def anonymous_connect(url: str) -> str:
    """The error a connection without credentials gets ("" when it is let in)."""
    async def go() -> str:
        try:
            nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
        except Exception as exc:
            return str(exc)
        await nc.close()
        return ""
    return asyncio.run(go())


def test_make_run_brings_up_everything_behind_the_gateway(tmp_path):
    stack = Stack(tmp_path / "var")
    stack.start()
    try:
        with httpx.Client(base_url=stack.url, timeout=10) as client:
            health = client.get("/healthz")
            assert health.status_code == 200, health.text
            body = health.json()
            assert body["services"] == {r.name: "up" for r in ROUTED.values()} | body["services"]
            assert all(v == "up" for v in body["services"].values())
            assert set(body["services"]) == {s.name for s in ROUTED.values()}

            r = login(client)
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, me.text

            # Malformed requests to every service through the gateway: problem+json, request id, no 500.
            for route, info in ROUTED.items():
                for path in post_routes_without_path_params(info.name) or [f"/api/v1/{route}/"]:
                    bad = client.post(path, content=b'{"broken json', headers={
                        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                    assert 400 <= bad.status_code < 500, (path, bad.status_code, bad.text)
                    assert bad.headers["content-type"].startswith("application/problem+json"), path
                    assert bad.json()["request_id"] == bad.headers["x-request-id"], path
                missing = client.get(f"/api/v1/{route}/no/such/route")
                assert missing.status_code == 404
                assert missing.json()["request_id"]

            # The login event reached the audit log through NATS.
            deadline = time.monotonic() + 20
            while True:
                page = client.get("/api/v1/audit-log/entries", params={"type": "roumu.auth.login.succeeded"},
                                  headers={"Authorization": f"Bearer {token}"})
                if page.status_code == 200 and page.json()["items"]:
                    break
                assert time.monotonic() < deadline, page.text
                time.sleep(0.25)

        # make run's NATS has users (shared/nats_auth.py): a client without credentials is turned away,
        # and every process of the stack stayed within its own permissions.
        nats_url = re.search(r"NATS: (nats://\S+)", stack.log.read_text()).group(1)  # type: ignore[union-attr]
        assert "Authorization Violation" in anonymous_connect(nats_url)
        nats_log = (tmp_path / "var" / "log" / "nats.log").read_text()
        assert "Publish Violation" not in nats_log and "Subscription Violation" not in nats_log, nats_log[-3000:]
        assert (tmp_path / "var" / "keys" / "nats" / "nats-server.conf").stat().st_mode & 0o077 == 0
    finally:
        assert stack.stop() == 0
    time.sleep(0.5)
    assert not [p for p in stack.ports() if port_open(p)], "a process outlived Ctrl-C"

    # A second run keeps the data: the same demo login works and nothing is re-seeded.
    again = Stack(tmp_path / "var")
    again.env["ROUMU_DEMO_ADMIN_PASSWORD"] = ""
    again.start()
    try:
        with httpx.Client(base_url=again.url, timeout=10) as client:
            assert login(client).status_code == 200
    finally:
        again.stop()
