"""Webhook receivers for tests: real HTTP servers on 127.0.0.1 with scripted answers, and the
example partner client's verifier (docs/partner-example.py), loaded from its file."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.events import EventEnvelope
from shared.nats_auth import ADMIN
from shared.nats_client import connect

ROOT = Path(__file__).resolve().parents[2]


def partner_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("partner_example", ROOT / "docs" / "partner-example.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


class ScriptedReceiver:
    """Answers each POST with the next status of `script` (then `then`), recording every request."""

    def __init__(self, script: list[int] | None = None, then: int = 200) -> None:
        self.script = list(script or [])
        self.then = then
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else receiver.then
                    receiver.requests.append(Received(dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll until `condition()` is truthy (a liveness bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def publish(settings: Any, *events: EventEnvelope) -> None:
    async def go() -> None:
        nc = await connect(settings.nats_access(ADMIN), "test-webhooks", max_reconnect_attempts=0)
        js = nc.jetstream()
        for e in events:
            await js.publish(e.type, e.to_json(), stream=settings.nats_stream, headers={"Nats-Msg-Id": e.id})
        await nc.close()

    asyncio.run(go())

