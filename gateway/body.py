"""Request bodies at the gateway: media type and size checked before the service sees a byte.

* A `Content-Length` over the route's limit is refused (413) before any of the body is read.
* A chunked body is counted as it streams and cut off (413) the moment it passes the limit.
* Bodies up to BUFFER_BODY_BYTES are read whole and leave in one write; larger ones stream, so a
  100 MB upload never sits in memory.
* Slow clients get 408: each read must come within BODY_TIMEOUT; the whole body within
  BODY_DEADLINE when it is read whole here (STREAM_BODY_DEADLINE when it streams); and after
  BODY_RATE_GRACE seconds it must keep arriving at BODY_MIN_RATE bytes/s on average. A client
  trickling a byte every few seconds is cut off within seconds, not kept for as long as it likes.
* `whole=True` (requests without a token) never streams: the body is read completely before any
  upstream connection is taken, so a slow anonymous body holds nothing but its own socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from starlette.types import Receive, Scope

from gateway.refusals import too_large, unsupported_media_type
from gateway.settings import GatewaySettings
from shared.errors import ProblemError

FORM = "application/x-www-form-urlencoded"


class ClientDisconnected(Exception):
    """The client went away while its body was still being read."""


def request_timeout() -> ProblemError:
    return ProblemError(408, "request-timeout", "リクエストの受信がタイムアウトしました",
                        "本文の送信が途中で止まりました")


class _Meter:
    """When the next body byte must have arrived: per read, by the whole-body deadline, by the minimum rate."""

    __slots__ = ("deadline", "grace", "rate", "received", "start")

    def __init__(self, deadline: float, grace: float, rate: int) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + deadline
        self.grace = grace
        self.rate = rate
        self.received = 0

    def streaming(self, deadline: float) -> None:
        self.deadline = self.start + deadline

    def wait_at_most(self, per_read: float) -> float:
        due = self.deadline
        if self.rate > 0:
            # received >= (elapsed - grace) * rate, i.e. the next byte is due by this:
            due = min(due, self.start + self.grace + self.received / self.rate)
        return min(per_read, due - time.monotonic())


@dataclass(frozen=True)
class Body:
    data: bytes | None = None  # the whole body; None with `stream` or when there is none
    stream: AsyncIterator[bytes] | None = None
    length: int | None = None  # of a streamed body, when the client said


NO_BODY = Body()


class BodyPolicy:
    def __init__(self, gw: GatewaySettings) -> None:
        self.json_types = frozenset(t.lower() for t in gw.json_content_types)
        self.upload_types = frozenset(t.lower() for t in gw.upload_content_types)
        self.upload_paths = tuple(gw.upload_paths)
        self.form_paths = tuple(gw.form_content_paths)
        self.max_body = gw.max_body_bytes
        self.max_upload = gw.max_upload_bytes + gw.multipart_overhead_bytes
        self.buffer_limit = gw.buffer_body_bytes
        self.timeout = gw.body_timeout
        self.deadline = gw.body_deadline
        self.stream_deadline = gw.stream_body_deadline
        self.min_rate = gw.body_min_rate
        self.rate_grace = gw.body_rate_grace
        self.anonymous_limit = gw.anonymous_body_bytes

    def limit_for(self, path: str, media_type: str) -> int:
        """The largest body the route takes with this media type; 415 for a type it does not take."""
        if media_type in self.json_types or (media_type.startswith("application/") and media_type.endswith("+json")):
            return self.max_body
        if media_type in self.upload_types and path.startswith(self.upload_paths):
            return self.max_upload
        if media_type == FORM and path.startswith(self.form_paths):
            return self.max_body
        raise unsupported_media_type(f"{media_type or '(Content-Type なし)'} はこの経路では受け付けません")

    async def read(self, scope: Scope, receive: Receive, limit_override: int | None = None,
                   whole: bool = False) -> Body:
        """The request's body, checked; `whole`: read completely before returning (never a stream),
        capped at ANONYMOUS_BODY_BYTES."""
        length: int | None = None
        chunked = False
        ctype = b""
        headers: Sequence[tuple[bytes, bytes]] = scope["headers"]
        for name, value in headers:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise ProblemError(400, "bad-request", "リクエストが正しくありません",
                                       "Content-Length が正しくありません") from None
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type":
                ctype = value
        if length is None and not chunked:
            return NO_BODY
        if length == 0:
            return Body(data=b"")
        media_type = ctype.split(b";", 1)[0].strip().lower().decode("latin-1")
        limit = self.limit_for(scope["path"], media_type)
        if limit_override is not None:
            limit = min(limit, limit_override)
        if whole:
            limit = min(limit, self.anonymous_limit)
        if length is not None and length > limit:
            raise too_large(limit)
        meter = _Meter(self.deadline, self.rate_grace, self.min_rate)
        if whole or (length is not None and length <= self.buffer_limit):
            return Body(data=await self._read_all(receive, limit, meter))
        # Unknown length, or too large to hold: read what fits the buffer, then decide.
        head: list[bytes] = []
        seen = 0
        more = True
        while more and seen <= self.buffer_limit:
            piece, more = await self._receive(receive, meter)
            if piece:
                seen += len(piece)
                if seen > limit:
                    raise too_large(limit)
                head.append(piece)
        if not more:
            return Body(data=b"".join(head))
        meter.streaming(self.stream_deadline)
        return Body(stream=self._stream(receive, head, seen, limit, meter), length=length)

    async def _receive(self, receive: Receive, meter: _Meter) -> tuple[bytes, bool]:
        wait = meter.wait_at_most(self.timeout)
        if wait <= 0:
            raise request_timeout()
        try:
            message = await asyncio.wait_for(receive(), wait)
        except TimeoutError:
            raise request_timeout() from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body: bytes = message.get("body", b"")
        meter.received += len(body)
        return body, bool(message.get("more_body", False))

    async def _read_all(self, receive: Receive, limit: int, meter: _Meter) -> bytes:
        parts: list[bytes] = []
        seen = 0
        more = True
        while more:
            piece, more = await self._receive(receive, meter)
            if piece:
                seen += len(piece)
                if seen > limit:
                    raise too_large(limit)
                parts.append(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _stream(self, receive: Receive, head: list[bytes], seen: int, limit: int,
                      meter: _Meter) -> AsyncIterator[bytes]:
        for piece in head:
            yield piece
        more = True
        while more:
            piece, more = await self._receive(receive, meter)
            if piece:
                seen += len(piece)
                if seen > limit:
                    raise too_large(limit)
                yield piece
