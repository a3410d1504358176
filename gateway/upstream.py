"""A lean HTTP/1.1 client for the hot path: asyncio protocols, httptools' parser, keep-alive pools.

Why not httpx: profiling put 1.5–2 ms of CPU per proxied request into httpx/httpcore (pool
bookkeeping, anyio stream wrappers), more than the rest of the gateway together. This client does
what a reverse proxy needs and nothing else:

* one pool per upstream (host, port); idle connections reused last-in first-out, dropped after
  `keepalive_expiry` (kept below the services' own keep-alive timeout);
* a request head and a small body leave in one `write`; large bodies stream with back-pressure
  (`pause_writing` → wait for the socket to drain, bounded by `write_timeout`);
* the response is parsed as bytes arrive; a small response that arrived whole is answered in one
  piece, a large one streams with back-pressure the other way (reading pauses past 256 KiB queued);
* a reused connection that the service closed while idle fails before any byte of the answer:
  such a request is retried once on a new connection when its body was buffered (nothing lost)
  and the caller says it may run twice (gateway/balancer.py: not a bare POST).

Control-plane calls (health checks, tenant settings, keys) still use httpx: they are rare."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httptools

Header = tuple[bytes, bytes]

_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


class UpstreamError(Exception):
    """Base of what can go wrong talking to a service."""


class ConnectFailed(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class ConnectTimeout(UpstreamTimeout):
    """No connection within the connect timeout: nothing was sent."""


class PoolTimeout(UpstreamError):
    pass


class ConnectionBroken(UpstreamError):
    """Closed or unparseable before the response was complete."""


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float
    write: float
    pool: float


class _Conn(asyncio.Protocol):
    """One connection to a service; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self._reset(head_only=False)
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None

    def _reset(self, head_only: bool) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: list[Header] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.got_bytes = False
        self.error: UpstreamError | None = None
        self.head_only = head_only
        self.reading_paused = False
        self.body_incomplete = False
        self.waiter: asyncio.Future[None] | None = None
        # Done when the service has answered (its head is in) or the connection ended: a request body
        # still streaming up is then abandoned at once, not after the client's next byte.
        self.answered: asyncio.Future[None] = self.loop.create_future()

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and self.error is None:
            self.error = ConnectionBroken("connection closed by the service")
        self._wake()
        self._answered()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def eof_received(self) -> bool:
        return False  # close our side too

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = ConnectionBroken(f"unparseable response: {exc}")
            self.close()
            self._answered()
        self._wake()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # -- httptools callbacks -----------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.head_done = True
        self._answered()
        if self.head_only:
            # httptools cannot be told the request was HEAD: take the head as the whole answer and
            # never reuse the connection (a Content-Length would make the parser wait for a body).
            self.complete = True
            self.keep_alive = False

    def on_body(self, body: bytes) -> None:
        if self.head_only:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True

    def on_message_complete(self) -> None:
        if not self.head_only:
            self.complete = True
            self.keep_alive = self.parser.should_keep_alive()

    # -- used by the pool and the proxy ------------------------------------------------------------
    def _answered(self) -> None:
        if not self.answered.done():
            self.answered.set_result(None)

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def _wait(self, seconds: float) -> None:
        fut: asyncio.Future[None] = self.loop.create_future()
        self.waiter = fut
        handle = self.loop.call_later(seconds, _expire, fut)
        try:
            await fut
        finally:
            handle.cancel()
            self.waiter = None

    def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise self.error or ConnectionBroken("connection closed by the service")
        self.transport.write(data)

    async def drain(self, seconds: float) -> None:
        if not self._write_paused or self.closed:
            return
        fut: asyncio.Future[None] = self.loop.create_future()
        self._drain = fut
        handle = self.loop.call_later(seconds, _expire, fut)
        try:
            await fut
        finally:
            handle.cancel()
            self._drain = None

    async def read_head(self, seconds: float) -> None:
        while not self.head_done:
            if self.error is not None:
                raise self.error
            await self._wait(seconds)

    async def next_chunk(self, seconds: float) -> bytes | None:
        """The next piece of the body; None at its end."""
        while True:
            if self.chunks:
                data = self.chunks.popleft()
                self.buffered -= len(data)
                if self.reading_paused and self.buffered < _LOW_WATER and self.transport is not None:
                    self.transport.resume_reading()
                    self.reading_paused = False
                return data
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            await self._wait(seconds)

    def take_body(self) -> bytes:
        """Everything received, when `complete` already: the one-piece answer of a small response."""
        data = b"".join(self.chunks)
        self.chunks.clear()
        self.buffered = 0
        return data

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(UpstreamTimeout("timed out"))


class Pool:
    """Keep-alive connections to one service. `limit` bounds requests in flight over all pools,
    `own_limit` those to this service alone, so one slow service cannot take every slot."""

    def __init__(self, host: str, port: int, limit: asyncio.Semaphore, max_idle: int, keepalive_expiry: float,
                 timeouts: Timeouts, own_limit: asyncio.Semaphore | None = None) -> None:
        self.host = host
        self.port = port
        self.host_header = f"{host}:{port}".encode("ascii")
        self.limit = limit
        self.own_limit = own_limit
        self.max_idle = max_idle
        self.keepalive_expiry = keepalive_expiry
        self.timeouts = timeouts
        self.idle: list[_Conn] = []

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(loop), self.host, self.port), self.timeouts.connect)
        except TimeoutError as exc:
            raise ConnectTimeout("connect timed out") from exc
        except OSError as exc:
            raise ConnectFailed(str(exc)) from exc
        return conn

    async def _take(self, sem: asyncio.Semaphore, deadline: float) -> None:
        if not sem.locked():
            await sem.acquire()  # free: returns without suspending
            return
        try:
            await asyncio.wait_for(sem.acquire(), max(0.0, deadline - time.monotonic()))
        except TimeoutError as exc:
            raise PoolTimeout("no free connection") from exc

    def _give_back(self) -> None:
        self.limit.release()
        if self.own_limit is not None:
            self.own_limit.release()

    async def acquire(self) -> _Conn:
        deadline = time.monotonic() + self.timeouts.pool
        if self.own_limit is not None:
            await self._take(self.own_limit, deadline)
        try:
            await self._take(self.limit, deadline)
        except BaseException:
            if self.own_limit is not None:
                self.own_limit.release()
            raise
        try:
            now = time.monotonic()
            while self.idle:
                conn = self.idle.pop()
                if not conn.closed and now - conn.idle_since < self.keepalive_expiry:
                    conn.reused = True
                    return conn
                conn.close()
            conn = await self._connect()
            conn.reused = False
            return conn
        except BaseException:
            self._give_back()
            raise

    def release(self, conn: _Conn) -> None:
        """Back to the pool when the answer was read whole and the service keeps the connection."""
        reusable = (conn.complete and conn.keep_alive and not conn.closed and conn.error is None
                    and not conn.body_incomplete and not conn.chunks and len(self.idle) < self.max_idle)
        if reusable:
            conn.idle_since = time.monotonic()
            self.idle.append(conn)
        else:
            conn.close()
        self._give_back()

    def discard(self, conn: _Conn) -> None:
        conn.close()
        self._give_back()

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()

    def head(self, method: str, target: bytes, headers: Sequence[Header], length: int | None,
             chunked: bool) -> bytes:
        parts = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nhost: ", self.host_header, b"\r\n"]
        for name, value in headers:
            parts += [name, b": ", value, b"\r\n"]
        if length is not None:
            parts += [b"content-length: ", str(length).encode("ascii"), b"\r\n"]
        elif chunked:
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    async def send(self, method: str, target: bytes, headers: Sequence[Header], body: bytes | None,
                   stream: AsyncIterator[bytes] | None = None, length: int | None = None,
                   resend: bool = True) -> _Conn:
        """Send one request; return its connection with the response head read.

        `body`: the whole body (or None for none); `stream`: a body to forward piece by piece, of
        `length` bytes when known, chunked otherwise. The caller reads the body from the connection
        and then calls `release` (or `discard` when it gave up half-way). `resend`: whether the
        request may be sent again after it went out on a kept-alive connection that broke before
        any answer (False for a bare POST: the service may have run it and died)."""
        for attempt in (0, 1):
            conn = await self.acquire()
            conn._reset(head_only=method == "HEAD")
            try:
                if stream is None:
                    conn.write(self.head(method, target, headers, len(body) if body is not None else None, False)
                               + (body or b""))
                else:
                    await self._stream(conn, method, target, headers, stream, length)
                await conn.read_head(self.timeouts.read)
                return conn
            except UpstreamTimeout:
                self.discard(conn)
                raise
            except ConnectionBroken:
                self.discard(conn)
                # A kept-alive connection the service closed while idle: nothing of the answer came,
                # and the body is still ours to send again.
                if attempt == 0 and conn.reused and not conn.got_bytes and stream is None and resend:
                    continue
                raise
            except BaseException:
                self.discard(conn)
                raise
        raise AssertionError("unreachable")

    async def _stream(self, conn: _Conn, method: str, target: bytes, headers: Sequence[Header],
                      stream: AsyncIterator[bytes], length: int | None) -> None:
        chunked = length is None
        conn.write(self.head(method, target, headers, length, chunked))
        pieces = aiter(stream)
        while True:
            # Whichever comes first: the client's next piece, or the service's answer (or hang-up).
            # An answer that arrived (a 401 for a body it never needed) ends the upload now, not
            # when a slow client gets round to its next byte.
            nxt = asyncio.ensure_future(anext(pieces))
            if not conn.answered.done():
                await asyncio.wait((nxt, conn.answered), return_when=asyncio.FIRST_COMPLETED)
            if conn.answered.done() and not nxt.done():
                nxt.cancel()
                await asyncio.wait((nxt,))
                conn.body_incomplete = True
                return
            try:
                piece = await nxt
            except StopAsyncIteration:
                break
            if conn.closed or conn.head_done:
                # The service answered (or hung up) before the body was done: its answer stands.
                conn.body_incomplete = True
                return
            conn.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            await conn.drain(self.timeouts.write)
        if chunked:
            conn.write(b"0\r\n\r\n")
