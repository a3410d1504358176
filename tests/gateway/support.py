"""Real servers for gateway tests: uvicorn in a background thread, and a small echo upstream."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.server import uvicorn_config
from tests.support.nats_server import free_port


class ServerThread:
    """One uvicorn server on a free loopback port, configured as the gateway is served in production
    (gateway.server); an upstream passes http="httptools" to get uvicorn's plain protocol."""

    def __init__(self, app: ASGIApp, port: int | None = None, **overrides: Any) -> None:
        self.port = port or free_port()
        config = uvicorn_config(app, "127.0.0.1", self.port, log_level="warning", **overrides)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            self.thread.join(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


OWN_CSP = b"default-src 'none'; sandbox"


class Echo:
    """An upstream that tells what it received, and can stall on demand.

    Paths (after /api/v1/<route>): /echo → method, raw path, query, headers as JSON;
    /upload → counts the body, noting progress; /download → one chunk, then waits for `release`;
    /slow → waits for `release` before answering; /hop → answers with hop-by-hop headers;
    /own-headers → answers with its own Content-Security-Policy (a download's sandbox);
    /reject → 401 at once, without reading the body (a service refusing a request it needs no body for)."""

    def __init__(self) -> None:
        self.received = 0
        self.progress = threading.Event()  # set once /upload has received `progress_at` bytes
        self.progress_at = 1 << 20
        self.release = threading.Event()
        self.stalled_out = False  # /download or /slow waited out its guard: a deadlock was broken

    async def _wait_release(self) -> None:
        # A guard against a deadlock hanging the run, not a timing check.
        if not await asyncio.to_thread(self.release.wait, 60):
            self.stalled_out = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path: str = scope["path"]
        if path == "/healthz":
            await _json(send, 200, {"status": "ok"})
        elif path.endswith("/upload"):
            chunks = 0
            while True:
                message = await receive()
                body = message.get("body", b"")
                if body:
                    chunks += 1
                    self.received += len(body)
                    if self.received >= self.progress_at:
                        self.progress.set()
                if not message.get("more_body", False):
                    break
            await _json(send, 200, {"received": self.received, "chunks": chunks})
        elif path.endswith("/download"):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/octet-stream")]})
            await send({"type": "http.response.body", "body": b"a" * 65536, "more_body": True})
            await self._wait_release()
            await send({"type": "http.response.body", "body": b"b" * 65536, "more_body": False})
        elif path.endswith("/slow"):
            await self._wait_release()
            await _json(send, 200, {"slow": True})
        elif path.endswith("/hop"):
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/plain"), (b"connection", b"x-resp-hop"), (b"x-resp-hop", b"1"),
                (b"proxy-authenticate", b"Basic"), (b"trailer", b"x-t"), (b"x-kept", b"yes"),
            ]})
            await send({"type": "http.response.body", "body": b"ok"})
        elif path.endswith("/reject"):
            await _json(send, 401, {"status": 401})
        elif path.endswith("/own-headers"):
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/pdf"), (b"content-security-policy", OWN_CSP),
            ]})
            await send({"type": "http.response.body", "body": b"%PDF-1.7"})
        else:
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            await _json(send, 200, {
                "method": scope["method"],
                "raw_path": scope["raw_path"].decode("latin-1"),
                "query": scope["query_string"].decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
                "body_length": len(body),
            })


async def _json(send: Send, status: int, data: Any) -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def header_values(echoed: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echoed["headers"] if k == name]


class Contract(Echo):
    """Echo, plus what accounts and auth serve the gateway (their real endpoints come from the
    Accounts and Identity issues): tenant access settings, per-tenant device CAs, every device CA,
    and a JWKS. Each internal call must carry a service token, checked with `verifier`."""

    def __init__(self, verifier: Any = None) -> None:
        super().__init__()
        self.verifier = verifier
        self.tenants: dict[str, dict[str, Any]] = {}  # tenant_id → access settings
        self.device_cas: dict[str, dict[str, Any]] = {}  # tenant_id → {"ca_pem", "revoked_serials"}
        self.jwks: dict[str, Any] = {"keys": []}
        self.calls: list[str] = []

    def add_tenant(self, tenant_id: str, code: str, allowlist: list[str] | None = None,
                   device_cert_required: bool = False) -> None:
        self.tenants[tenant_id] = {"tenant_id": tenant_id, "code": code, "status": "active",
                                   "ip_allowlist": allowlist or [], "device_cert_required": device_cert_required}

    def _authorised(self, scope: Scope, callee: str) -> bool:
        if self.verifier is None:
            return True
        auth = dict(scope["headers"]).get(b"authorization", b"").decode()
        try:
            return self.verifier.verify_service(auth.removeprefix("Bearer "), audience=callee).subject == "gateway"
        except Exception:
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http":
            self.calls.append(path)
        if path.startswith("/api/v1/accounts/internal/tenants/"):
            if not self._authorised(scope, "accounts"):
                await _json(send, 401, {"status": 401})
                return
            rest = path.removeprefix("/api/v1/accounts/internal/tenants/")
            if rest.startswith("by-code/"):
                code = rest.removeprefix("by-code/")
                found = next((t for t in self.tenants.values() if t["code"] == code), None)
            else:
                found = self.tenants.get(rest)
            await _json(send, 200 if found else 404, found or {"status": 404})
        elif path.startswith("/api/v1/auth/internal/device-ca/"):
            if not self._authorised(scope, "auth"):
                await _json(send, 401, {"status": 401})
                return
            ca = self.device_cas.get(path.rsplit("/", 1)[1])
            await _json(send, 200 if ca else 404, ca or {"status": 404})
        elif path == "/api/v1/auth/device-cas":
            await _json(send, 200, {"certificates": [{"certificate_pem": c["ca_pem"]}
                                                     for c in self.device_cas.values()]})
        elif path == "/api/v1/auth/.well-known/jwks.json":
            await _json(send, 200, self.jwks)
        else:
            await super().__call__(scope, receive, send)
