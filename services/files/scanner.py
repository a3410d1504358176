"""Virus scanning behind one small interface, with a clamd client (INSTREAM) as the real one.

clamd protocol (PLATFORM-NOTES §6.1): `zINSTREAM\\0`, then chunks of a 4-byte big-endian length
and the bytes, ended by a zero-length chunk; the answer is `stream: OK`, `stream: <name> FOUND`
or `... ERROR` (NUL-terminated). clamd authenticates nobody: keep it on a Unix socket or a private
network. Its StreamMaxLength must exceed the upload limit (100 MB) or large files come back as
an error rather than a verdict (we then keep them quarantined; clamd's own default is 100M)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

_CHUNK = 1 << 16


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    signature: str | None = None


class ScannerUnavailable(Exception):
    """The scanner could not give a verdict (down, timed out, refused the stream)."""


class Scanner(Protocol):
    name: str

    def scan(self, chunks: Iterable[bytes]) -> ScanResult: ...


class ClamdScanner:
    name = "clamd"

    def __init__(self, address: str, timeout: float = 120.0) -> None:
        """`unix:/path/to/clamd.sock` or `tcp:host:port`."""
        kind, _, rest = address.partition(":")
        if kind == "unix" and rest:
            self._family, self._target = socket.AF_UNIX, rest
        elif kind == "tcp" and rest:
            host, _, port = rest.rpartition(":")
            self._family, self._target = socket.AF_INET, (host.strip("[]"), int(port))  # type: ignore[assignment]
            if ":" in host:
                self._family = socket.AF_INET6
        else:
            raise ValueError(f"clamd address {address!r}: use unix:/path or tcp:host:port")
        self.address = address
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        s = socket.socket(self._family, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._target)
        except OSError as exc:
            s.close()
            raise ScannerUnavailable(f"clamd not reachable: {type(exc).__name__}") from exc
        return s

    @staticmethod
    def _reply(s: socket.socket) -> str:
        data = b""
        while not data.endswith(b"\0"):
            part = s.recv(4096)
            if not part:
                break
            data += part
        return data.rstrip(b"\0").decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        try:
            with self._connect() as s:
                s.sendall(b"zPING\0")
                return self._reply(s) == "PONG"
        except (OSError, ScannerUnavailable):
            return False

    def scan(self, chunks: Iterable[bytes]) -> ScanResult:
        with self._connect() as s:
            try:
                s.sendall(b"zINSTREAM\0")
                for chunk in chunks:
                    view = memoryview(chunk)
                    for i in range(0, len(view), _CHUNK):
                        part = view[i:i + _CHUNK]
                        s.sendall(struct.pack(">I", len(part)))
                        s.sendall(part)
                s.sendall(struct.pack(">I", 0))
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd hung up (size limit): its answer says why
            except OSError as exc:
                raise ScannerUnavailable(f"clamd: {type(exc).__name__}") from exc
            try:
                reply = self._reply(s)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd: {type(exc).__name__}") from exc
        return parse_reply(reply)


def parse_reply(reply: str) -> ScanResult:
    """`stream: OK` → clean; `stream: Eicar-Signature FOUND` → infected; anything else (ERROR,
    size limit, empty) → ScannerUnavailable: no verdict is not a clean verdict."""
    body = reply.partition(": ")[2] if reply.startswith("stream") else reply
    if body == "OK":
        return ScanResult(True)
    if body.endswith(" FOUND"):
        return ScanResult(False, body.removesuffix(" FOUND").strip()[:200])
    raise ScannerUnavailable(f"clamd answered {reply[:120]!r}")
