"""The one ASGI middleware of every service (shared/service_app.py): the request id, the HTTP
metrics and the answer to an unexpected error, in a single layer.

They were three pure-ASGI layers (RequestIdMiddleware outside MetricsMiddleware outside
UnexpectedErrors, kept for the gateway): each wrapped `send` once more and added a coroutine frame
per message, on every request of every service (issue #22). Here one wrapper of `send` does what the
three did, in the same order:

* the request id is read or made before anything runs and set in the context (logs, errors, events),
  and echoed as X-Request-ID on the answer;
* an exception escaping the routes and their handlers is answered as the frame's problem+json (or
  goes on to the server when the answer has started), while the request id is still set;
* the request is counted and timed by route template (roumu_http_requests_total,
  roumu_http_request_seconds) with the status sent, 500 when none was."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import unexpected_response
from shared.metrics import LATENCY, REQUESTS
from shared.request_context import REQUEST_ID_HEADER, _request_id, accept_request_id

_HEADER = REQUEST_ID_HEADER.encode()


class FrameMiddleware:
    def __init__(self, app: ASGIApp, service: str,
                 answer: Callable[[str, Exception], Response] | None = None) -> None:
        self.app = app
        self.service = service
        self.answer = answer or unexpected_response
        # The labelled children, made once per (method, route[, status]): `labels()` takes a lock
        # and builds a key on every call.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        incoming = None
        for k, v in scope["headers"]:
            if k == _HEADER:
                incoming = v.decode("latin-1")
                break
        rid = accept_request_id(incoming)
        rid_header = (_HEADER, rid.encode())
        token = _request_id.set(rid)
        status = 500
        started = False

        async def frame_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != _HEADER]
                headers.append(rid_header)
                message["headers"] = headers
            await send(message)

        try:
            try:
                await self.app(scope, receive, frame_send)
            except Exception as exc:
                if started:
                    raise
                await self.answer(scope.get("path", ""), exc)(scope, receive, frame_send)
        finally:
            try:
                self._observe(scope, status, time.perf_counter() - start)
            finally:
                _request_id.reset(token)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"]
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self._counters[(method, route, status)] = REQUESTS.labels(self.service, method, route,
                                                                                str(status))
        latency = self._latencies.get((method, route))
        if latency is None:
            latency = self._latencies[(method, route)] = LATENCY.labels(self.service, method, route)
        counter.inc()
        latency.observe(seconds)
