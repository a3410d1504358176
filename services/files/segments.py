"""Encryption at rest of file contents: chunked AEAD (AES-256-GCM per segment).

One GCM invocation must stay far below 64 GiB and a nonce must never repeat under a key, and a
100 MB file should never sit in memory; so a file is cut into segments of `SEGMENT` bytes, each
sealed on its own, in the manner of Tink's streaming AEAD and age's STREAM:

    header  = b"RMF1" ‖ segment size (u32 BE) ‖ nonce prefix (8 random bytes)      16 bytes
    segment = AES-GCM(key, nonce = prefix ‖ counter (u32 BE),
                      plaintext ≤ SEGMENT, aad = header ‖ counter (u32 BE) ‖ final (1 byte)) ‖ tag

The key is the file's own data key (random, used for this one file), so counter nonces never
repeat. The header (and through the caller's `aad`, the file id) is authenticated with every
segment; the counter stops reordering; the final flag stops truncation at a segment boundary
(the new last segment was sealed as "not final" and fails to open). Segments have a fixed place,
so a reader can seek: `SealedReader` is a read-only, seekable file object over the plaintext
(used by the ZIP check and by downloads), decrypting one segment at a time."""

from __future__ import annotations

import io
import os
import secrets
import struct
from collections.abc import Iterator
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC: Final = b"RMF1"
SEGMENT: Final = 1 << 20
TAG: Final = 16
HEADER_LEN: Final = 16
KEY_LEN: Final = 32


class SealError(Exception):
    """A sealed file that does not open: wrong key, tampered, truncated or extended."""


def new_file_key() -> bytes:
    return secrets.token_bytes(KEY_LEN)


def _aad(header: bytes, extra: bytes, counter: int, final: bool) -> bytes:
    return header + extra + struct.pack(">IB", counter, 1 if final else 0)


class SealingWriter:
    """Encrypts a stream into `out` segment by segment. Holds at most one segment of plaintext
    (the last full one is kept back until more data shows it is not the final one)."""

    def __init__(self, out: BinaryIO, key: bytes, aad: bytes = b"", segment: int = SEGMENT) -> None:
        self._out = out
        self._aead = AESGCM(key)
        self._prefix = secrets.token_bytes(8)
        self._header = MAGIC + struct.pack(">I", segment) + self._prefix
        self._extra = aad
        self._segment = segment
        self._buf = bytearray()
        self._counter = 0
        self._closed = False
        out.write(self._header)

    def write(self, data: bytes | memoryview) -> None:
        if self._closed:
            raise ValueError("writer closed")
        self._buf += data
        # Seal every full segment that is certainly not the last (more bytes follow it).
        while len(self._buf) > self._segment:
            self._seal(bytes(self._buf[:self._segment]), final=False)
            del self._buf[:self._segment]

    def _seal(self, plain: bytes, final: bool) -> None:
        if self._counter >= 0xFFFFFFFF:
            raise ValueError("too many segments")
        nonce = self._prefix + struct.pack(">I", self._counter)
        self._out.write(self._aead.encrypt(nonce, plain, _aad(self._header, self._extra, self._counter, final)))
        self._counter += 1

    def close(self) -> None:
        """Seal what is left as the final segment (an empty file is one empty final segment)."""
        if not self._closed:
            self._seal(bytes(self._buf), final=True)
            self._buf.clear()
            self._closed = True


def sealed_size(plain_size: int, segment: int = SEGMENT) -> int:
    segments = max(1, -(-plain_size // segment))
    return HEADER_LEN + plain_size + segments * TAG


class SealedReader(io.RawIOBase):
    """The plaintext of a sealed file, seekable, decrypting one segment at a time."""

    def __init__(self, f: BinaryIO, key: bytes, aad: bytes = b"") -> None:
        super().__init__()
        self._f = f
        f.seek(0, os.SEEK_END)
        total = f.tell()
        f.seek(0)
        header = f.read(HEADER_LEN)
        if len(header) != HEADER_LEN or header[:4] != MAGIC:
            raise SealError("not a sealed file")
        self._header = header
        self._segment = struct.unpack_from(">I", header, 4)[0]
        if not 1024 <= self._segment <= 1 << 26:
            raise SealError("bad segment size")
        self._prefix = header[8:16]
        self._aead = AESGCM(key)
        self._extra = aad
        body = total - HEADER_LEN
        seg_ct = self._segment + TAG
        self._count = max(1, -(-body // seg_ct))
        last_ct = body - (self._count - 1) * seg_ct
        if last_ct < TAG:
            raise SealError("truncated")
        self._size: int = (self._count - 1) * self._segment + last_ct - TAG
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        pos = base + offset
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = int(pos)
        return self._pos

    def _segment_plain(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        seg_ct = self._segment + TAG
        self._f.seek(HEADER_LEN + index * seg_ct)
        ct = self._f.read(seg_ct)
        final = index == self._count - 1
        nonce = self._prefix + struct.pack(">I", index)
        try:
            plain = self._aead.decrypt(nonce, ct, _aad(self._header, self._extra, index, final))
        except InvalidTag as exc:
            raise SealError(f"segment {index} does not open") from exc
        self._cached = (index, plain)
        return plain

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._pos
        out = bytearray()
        while size > 0 and self._pos < self._size:
            index, offset = divmod(self._pos, self._segment)
            plain = self._segment_plain(index)
            piece = plain[offset:offset + size]
            if not piece:
                break
            out += piece
            self._pos += len(piece)
            size -= len(piece)
        return bytes(out)

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def segments(self) -> Iterator[bytes]:
        """The plaintext from the start, one segment at a time (downloads, scanning). Every
        segment is checked, the final flag included, before it is handed out."""
        for index in range(self._count):
            plain = self._segment_plain(index)
            if plain:
                yield plain


def unseal_stream(chunks: Iterator[bytes], key: bytes, total: int, aad: bytes = b"") -> Iterator[bytes]:
    """The plaintext of a sealed file read front to back (an object store's GET), one segment at
    a time; `total` is the sealed size recorded at upload. Any mismatch raises SealError — after
    the bytes before it were handed out, so a caller streaming a response can only cut it."""
    buf = bytearray()
    it = iter(chunks)

    def fill(n: int) -> bytes:
        while len(buf) < n:
            chunk = next(it, None)
            if chunk is None:
                break
            buf.extend(chunk)
        out = bytes(buf[:n])
        del buf[:n]
        return out

    header = fill(HEADER_LEN)
    if len(header) != HEADER_LEN or header[:4] != MAGIC:
        raise SealError("not a sealed file")
    segment = struct.unpack_from(">I", header, 4)[0]
    prefix = header[8:16]
    aead = AESGCM(key)
    seg_ct = segment + TAG
    count = max(1, -(-(total - HEADER_LEN) // seg_ct))
    for index in range(count):
        ct = fill(seg_ct)
        final = index == count - 1
        try:
            plain = aead.decrypt(prefix + struct.pack(">I", index), ct, _aad(header, aad, index, final))
        except InvalidTag as exc:
            raise SealError(f"segment {index} does not open") from exc
        if plain:
            yield plain
    if buf or next(it, None) is not None:
        raise SealError("trailing bytes")
