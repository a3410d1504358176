"""Forwarding one request to a service and its response back, streaming both bodies.

Neither body is ever held whole: the request body goes from `receive` straight into the upstream
socket, the response from the upstream socket straight to `send`, so memory per request stays at a
few chunks whatever the size (100 MB uploads go through here)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

import httpx
from starlette.types import Receive, Scope, Send

from gateway.headers import Downstream, TrustedProxies, downstream_headers, header_bytes, upstream_headers
from gateway.routing import Target, bad_request, check_path, match
from shared.errors import ProblemError
from shared.request_context import current_request_id, new_request_id

log = logging.getLogger("roumu.gateway")

# TRACE reflects the request (headers included) back; CONNECT would open a tunnel. Neither is an API call.
_REFUSED_METHODS = frozenset({"TRACE", "CONNECT"})


class ClientDisconnected(Exception):
    """The client went away while its body was still being forwarded."""


class Proxy:
    def __init__(
        self,
        client: httpx.AsyncClient,
        upstreams: Mapping[str, str],
        proxies: TrustedProxies,
        max_header_bytes: int,
    ) -> None:
        self.client = client
        # Service name → base URL, parsed once rather than per request.
        self.upstreams = {name: httpx.URL(url) for name, url in upstreams.items()}
        self.proxies = proxies
        self.max_header_bytes = max_header_bytes

    def target(self, scope: Scope) -> Target:
        """The service to call, or a ProblemError saying why the request goes nowhere."""
        if header_bytes(scope["headers"]) > self.max_header_bytes:
            raise ProblemError(431, "headers-too-large", "リクエストヘッダーが大きすぎます")
        check_path(scope.get("raw_path") or scope["path"].encode("utf-8"))
        if scope["method"] in _REFUSED_METHODS:
            raise ProblemError(405, "method-not-allowed", "このメソッドは使用できません")
        target = match(scope["path"])
        if target is None:
            raise ProblemError(404, "not-found", "指定されたリソースが見つかりません", "該当するサービスがありません")
        return target

    def build_request(self, scope: Scope, receive: Receive, target: Target) -> httpx.Request:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        query: bytes = scope.get("query_string", b"")
        url = self.upstreams[target.service.name].copy_with(raw_path=raw_path + (b"?" + query if query else b""))
        client = scope.get("client")
        down = Downstream(peer=client[0] if client else None, scheme=scope.get("scheme", "http"))
        headers = upstream_headers(scope["headers"], down, self.proxies, current_request_id() or new_request_id())
        return httpx.Request(scope["method"], url, headers=headers, content=_body(scope, receive))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.target(scope)
        scope["route"] = target.label
        try:
            request = self.build_request(scope, receive, target)
        except httpx.InvalidURL as exc:
            raise bad_request("URL が正しくありません") from exc
        try:
            response = await self.client.send(request, stream=True)
        except ClientDisconnected:
            return
        except httpx.PoolTimeout as exc:
            # Every pooled connection busy: the gateway is the bottleneck, not the service.
            raise ProblemError(503, "unavailable", "サービスが一時的に利用できません") from exc
        except httpx.TimeoutException as exc:
            log.warning("upstream timeout", extra={"service": target.service.name, "error": type(exc).__name__})
            raise ProblemError(504, "gateway-timeout", "サービスの応答がタイムアウトしました") from exc
        except httpx.TransportError as exc:
            log.warning("upstream unreachable", extra={"service": target.service.name, "error": type(exc).__name__})
            raise ProblemError(502, "bad-gateway", "サービスに接続できません") from exc
        try:
            await send({
                "type": "http.response.start",
                "status": response.status_code,
                "headers": downstream_headers(response.headers.raw),
            })
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.TransportError as exc:
            # The status line is gone already: all that is left is to cut the connection, which the
            # ASGI server does when the app returns an unfinished response.
            log.warning("upstream broke mid-response",
                        extra={"service": target.service.name, "error": type(exc).__name__})
        finally:
            await response.aclose()


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


def _body(scope: Scope, receive: Receive) -> AsyncIterator[bytes] | None:
    """The request body as the ASGI server hands it over, chunk by chunk; None when there is none,
    so a GET goes upstream without `Transfer-Encoding: chunked`."""
    if not _has_body(scope):
        return None

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            body: bytes = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return

    return chunks()
