"""Forwarding one request to a service and its response back.

The upstream side is gateway.upstream (pooled keep-alive connections, no per-request client
setup). A small body goes up in one write with the head; a large one streams (gateway.body). A
response that arrived whole is answered in one piece; a large or slow one streams as it comes, so
memory per request stays at a few chunks whatever the size (100 MB uploads and downloads)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.types import Scope, Send

from gateway.balancer import Upstream
from gateway.body import Body, ClientDisconnected
from gateway.headers import Header, TrustedProxies, downstream_headers, header_bytes
from gateway.routing import Target, check_path, match
from gateway.upstream import (
    ConnectFailed,
    ConnectionBroken,
    Pool,
    PoolTimeout,
    UpstreamError,
    UpstreamTimeout,
    _Conn,
)
from shared.errors import ProblemError

log = logging.getLogger("roumu.gateway")

# TRACE reflects the request (headers included) back; CONNECT would open a tunnel. Neither is an API call.
_REFUSED_METHODS = frozenset({"TRACE", "CONNECT"})


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"upstream URL must be http://host[:port]: {url!r}")
    return parts.hostname, parts.port or 80


class Proxy:
    def __init__(self, upstreams: Mapping[str, Upstream], proxies: TrustedProxies, max_header_bytes: int,
                 read_timeout: float) -> None:
        self.upstreams = dict(upstreams)
        self.proxies = proxies
        self.max_header_bytes = max_header_bytes
        self.read_timeout = read_timeout

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

    async def forward(self, scope: Scope, send: Send, target: Target, body: Body, headers: list[Header]) -> None:
        upstream = self.upstreams[target.service.name]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        query: bytes = scope.get("query_string", b"")
        request_target = raw_path + b"?" + query if query else raw_path
        try:
            replica, conn = await upstream.send(scope["method"], request_target, headers, body.data, body.stream,
                                                body.length)
        except ClientDisconnected:
            return
        except PoolTimeout as exc:
            # Every connection busy: the gateway is the bottleneck, not the service.
            raise ProblemError(503, "unavailable", "サービスが一時的に利用できません") from exc
        except UpstreamTimeout as exc:
            log.warning("upstream timeout", extra={"service": target.service.name})
            raise ProblemError(504, "gateway-timeout", "サービスの応答がタイムアウトしました") from exc
        except (ConnectFailed, ConnectionBroken) as exc:
            log.warning("upstream unreachable", extra={"service": target.service.name, "error": str(exc)})
            raise ProblemError(502, "bad-gateway", "サービスに接続できません") from exc
        try:
            await self._respond(send, target, replica.pool, conn)
        finally:
            upstream.done(replica)

    async def _respond(self, send: Send, target: Target, pool: Pool, conn: _Conn) -> None:
        headers = downstream_headers(conn.headers)
        if conn.body_incomplete:
            # Answered before the client's body was done: the rest will never be read, so the client's
            # connection ends with this response.
            headers.append((b"connection", b"close"))
        start = {"type": "http.response.start", "status": conn.status, "headers": headers}
        try:
            if conn.complete:
                body_bytes = conn.take_body()
                await send(start)
                await send({"type": "http.response.body", "body": body_bytes, "more_body": False})
            else:
                await send(start)
                while (chunk := await conn.next_chunk(self.read_timeout)) is not None:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except UpstreamError as exc:
            # The status line is gone already: all that is left is to cut the connection, which the
            # ASGI server does when the app returns an unfinished response.
            log.warning("upstream broke mid-response", extra={"service": target.service.name, "error": str(exc)})
            pool.discard(conn)
            return
        except BaseException:
            pool.discard(conn)
            raise
        pool.release(conn)
