"""How the gateway is served: uvicorn with uvloop and httptools, with changes that matter here.

* uvicorn's X-Forwarded-For handling is off: it trusts 127.0.0.1 by default and would rewrite the
  peer address before the gateway's own trusted-proxy rules see it.
* A request uvicorn cannot parse as HTTP (raw non-ASCII in the path, a broken request line) is
  refused by the server before any app runs, in text/plain; here it gets problem+json and a request
  id like every other refusal.
* Slow or oversized request heads are cut off in the protocol, before any app runs: the header
  block must arrive within HEADER_TIMEOUT (408) and stay under MAX_HEADER_BYTES (431). uvicorn has
  neither; without them one client trickling a header byte a second holds a connection forever.
* TLS: the server's context comes from gateway.tls (shared with the app, which adds device CAs to
  it); the verified client certificate is put in the scope (`extensions.tls`).
* WORKERS > 1 runs uvicorn's process supervisor with the app factory in each worker."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway import tls
from gateway.security import SECURITY_HEADERS
from gateway.settings import GatewaySettings, get_gateway_settings
from shared.errors import PROBLEM_JSON, problem_body
from shared.request_context import new_request_id
from shared.serving import DrainingServer

_HEAD_SLACK = 8192  # request line and header framing on top of MAX_HEADER_BYTES


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    # None: from the environment's settings (the worker processes of WORKERS > 1 get this class).
    max_header_bytes: int | None = None
    header_timeout: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.max_header_bytes is None or self.header_timeout is None:
            gw = get_gateway_settings()
            self.max_header_bytes, self.header_timeout = gw.max_header_bytes, gw.header_timeout
        self._max_head = self.max_header_bytes + _HEAD_SLACK
        self._head_timeout = self.header_timeout
        self._head_bytes = 0
        self._in_head = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._tls: dict[str, object] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = tls.scope_tls(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._in_head and (self.cycle is None or self.cycle.response_complete):
            # The first bytes of a new request: its head must be complete in time.
            self._in_head = True
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Still no end of the head after this many bytes (a head completed in this read may share
        # it with the start of the body, so only an unfinished one is measured).
        if self._in_head and self._head_bytes > self._max_head and not self.transport.is_closing():
            self._cancel_head_timer()
            self._send_problem(431, "headers-too-large", "リクエストヘッダーが大きすぎます", None)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            extensions: dict[str, object] = {"tls": self._tls}
            self.scope["extensions"] = extensions  # type: ignore[typeddict-item]

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        self._in_head = False
        super().on_headers_complete()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._send_problem(408, "request-timeout", "リクエストの受信がタイムアウトしました",
                               "リクエストヘッダーが時間内に届きませんでした")

    def send_400_response(self, msg: str) -> None:
        self._send_problem(400, "bad-request", "リクエストが正しくありません", "HTTP リクエストとして解釈できません")

    def _send_problem(self, status: int, slug: str, title: str, detail: str | None) -> None:
        rid = new_request_id()
        body = json.dumps(problem_body(status, slug, title, detail, extra={"request_id": rid}),
                          ensure_ascii=False).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        for name, value in SECURITY_HEADERS:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: ", PROBLEM_JSON.encode(), b"\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\n",
            b"x-request-id: ", rid.encode(), b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def protocol_for(gw: GatewaySettings) -> type[ProblemHttpToolsProtocol]:
    """The protocol class with this configuration's limits (a subclass: uvicorn takes a class)."""
    return type("GatewayHttpToolsProtocol", (ProblemHttpToolsProtocol,),
                {"max_header_bytes": gw.max_header_bytes, "header_timeout": gw.header_timeout})


def _context_factory(_config: uvicorn.Config, _default: Any) -> ssl.SSLContext:
    ctx = tls.server_context(get_gateway_settings())
    assert ctx is not None
    return ctx


def uvicorn_config(app: ASGIApp | str, host: str, port: int, gw: GatewaySettings | None = None,
                   **overrides: object) -> uvicorn.Config:
    gw = gw or getattr(getattr(app, "gateway", None), "gw", None) or get_gateway_settings()
    options: dict[str, object] = {
        "loop": "uvloop", "http": protocol_for(gw), "proxy_headers": False,
        "log_config": None, "access_log": False, "lifespan": "on",
        "timeout_keep_alive": gw.keepalive_timeout, "backlog": 4096,
    }
    ctx = getattr(app, "ssl_context", None)
    if ctx is not None:
        options["ssl_context_factory"] = lambda _c, _d: ctx
    elif isinstance(app, str) and gw.tls_certfile is not None:
        options["ssl_context_factory"] = _context_factory
    options.update(overrides)
    return uvicorn.Config(app, host=host, port=port, **options)  # type: ignore[arg-type]


def serve(host: str, gw: GatewaySettings, drain_seconds: float = 0.0) -> None:
    """`python -m gateway`: one process, or uvicorn's supervisor over WORKERS processes. One process
    drains on SIGTERM like a service (shared/serving.py): /readyz 503 at once, requests still served
    for `drain_seconds`, then uvicorn's graceful stop."""
    if gw.workers <= 1:
        from gateway.app import create_app

        DrainingServer(uvicorn_config(create_app(), host, gw.port, gw), drain_seconds).run()
        return
    from uvicorn.supervisors import Multiprocess

    config = uvicorn_config("gateway.app:create_app", host, gw.port, gw, factory=True, workers=gw.workers,
                            http=ProblemHttpToolsProtocol)
    sock = config.bind_socket()
    Multiprocess(config, sockets=[sock]).run()
