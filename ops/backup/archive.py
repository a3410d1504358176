"""The backup archive: a tar stream (manifest first, then every member) encrypted with AES-256-GCM
in segments, so neither writing nor reading ever holds a whole dump in memory.

Layout of a `.rbk` file::

    b"ROUMUBK1" | u32 header length | header (JSON) | segment 0 | segment 1 | ... | final segment

* The header names the archive id, the segment size, and the archive's own random data key (DEK),
  wrapped (AES-256-GCM) under a master backup key named by `kid`. Rotating the master key
  re-wraps the DEK in the header only (`rewrap`); the body is not re-encrypted.
* Each segment is `AES-256-GCM(DEK, nonce = 11-byte counter ‖ final flag, aad = archive id and
  segment size)` over up to `segment_bytes` of plaintext (the STREAM construction). The last segment
  carries the final flag: a file cut at a segment boundary, with segments dropped, reordered or
  appended, or with any byte changed, fails to decrypt.
* Inside: `manifest.json` (SHA-256 and size of every member, row counts, what the archive holds),
  then the members. Verification decrypts everything and checks every checksum.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import struct
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ROUMUBK1"
FORMAT = 1
TAG = 16
MANIFEST = "manifest.json"
_HASH_CHUNK = 1024 * 1024


class ArchiveError(Exception):
    """The archive cannot be read: unknown key, tampered with, truncated, or a checksum differs."""


def _b64e(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _b64d(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class BackupKeys:
    """Master backup keys, newest first: the first wraps new archives, any of them unwraps."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one backup key is needed")
        for kid, key in self.keys:
            if len(key) != 32:
                raise ValueError(f"backup key {kid!r} must be 32 bytes (AES-256)")
            if not kid or ":" in kid or "," in kid:
                raise ValueError(f"backup key id {kid!r} must be non-empty without ':' or ','")

    @classmethod
    def parse(cls, spec: str) -> BackupKeys:
        """`base64key` (one key; its id is derived from it) or `kid:base64,kid2:base64` (newest first)."""
        keys = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kid, sep, b64 = part.partition(":")
            if not sep:
                raw = _b64d(kid)
                keys.append((f"bk-{hashlib.sha256(raw).hexdigest()[:8]}", raw))
            else:
                keys.append((kid, _b64d(b64)))
        return cls(tuple(keys))

    @property
    def current(self) -> tuple[str, bytes]:
        return self.keys[0]

    def get(self, kid: str) -> bytes:
        for k, key in self.keys:
            if k == kid:
                return key
        raise ArchiveError(f"backup key {kid!r} is not configured (ROUMU_BACKUP_KEY lists the keys, newest first)")


def _wrap_aad(archive_id: str) -> bytes:
    return f"roumu-backup-dek|{archive_id}".encode()


def _body_aad(archive_id: str, segment_bytes: int) -> bytes:
    return f"roumu-backup|{FORMAT}|{archive_id}|{segment_bytes}".encode()


def _nonce(counter: int, final: bool) -> bytes:
    if counter >= 1 << 88:
        raise ArchiveError("archive too large")
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _header(archive_id: str, segment_bytes: int, kid: str, master: bytes, dek: bytes) -> bytes:
    wrap_nonce = secrets.token_bytes(12)
    wrapped = AESGCM(master).encrypt(wrap_nonce, dek, _wrap_aad(archive_id))
    body = json.dumps({"format": FORMAT, "archive_id": archive_id, "segment_bytes": segment_bytes, "kid": kid,
                       "wrap_nonce": _b64e(wrap_nonce), "wrapped_dek": _b64e(wrapped)}, sort_keys=True).encode()
    return MAGIC + struct.pack(">I", len(body)) + body


def read_header(f: IO[bytes]) -> dict[str, Any]:
    if f.read(len(MAGIC)) != MAGIC:
        raise ArchiveError("not a Roumu backup archive")
    raw_len = f.read(4)
    if len(raw_len) != 4:
        raise ArchiveError("truncated header")
    (length,) = struct.unpack(">I", raw_len)
    if length > 65536:
        raise ArchiveError("malformed header")
    try:
        header: dict[str, Any] = json.loads(f.read(length))
    except ValueError as exc:
        raise ArchiveError("malformed header") from exc
    if header.get("format") != FORMAT:
        raise ArchiveError(f"unknown archive format {header.get('format')!r}")
    return header


def _unwrap(header: dict[str, Any], keys: BackupKeys) -> bytes:
    master = keys.get(str(header["kid"]))
    try:
        return AESGCM(master).decrypt(_b64d(header["wrap_nonce"]), _b64d(header["wrapped_dek"]),
                                      _wrap_aad(str(header["archive_id"])))
    except (InvalidTag, ValueError, KeyError) as exc:
        raise ArchiveError("the archive's key does not unwrap (wrong key, or the header was changed)") from exc


class EncryptingWriter(io.RawIOBase):
    """A write-only stream: plaintext in, segments out to `sink`. close() writes the final segment."""

    def __init__(self, sink: IO[bytes], keys: BackupKeys, archive_id: str, segment_bytes: int) -> None:
        super().__init__()
        kid, master = keys.current
        self._dek = secrets.token_bytes(32)
        self._aead = AESGCM(self._dek)
        self._aad = _body_aad(archive_id, segment_bytes)
        self._sink = sink
        self._seg = segment_bytes
        self._buf = bytearray()
        self._counter = 0
        sink.write(_header(archive_id, segment_bytes, kid, master, self._dek))

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = bytes(data)
        self._buf += view
        # Keep at least one byte back: the final segment must carry the flag, and only close() knows.
        while len(self._buf) > self._seg:
            self._emit(bytes(self._buf[: self._seg]), final=False)
            del self._buf[: self._seg]
        return len(view)

    def _emit(self, plain: bytes, final: bool) -> None:
        self._sink.write(self._aead.encrypt(_nonce(self._counter, final), plain, self._aad))
        self._counter += 1

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buf), final=True)
            self._buf.clear()
            self._sink.flush()
        super().close()


def decrypt_segments(f: IO[bytes], keys: BackupKeys) -> Iterator[bytes]:
    """The plaintext of an archive, segment by segment; ArchiveError on any tampering or truncation."""
    header = read_header(f)
    aead = AESGCM(_unwrap(header, keys))
    seg = int(header["segment_bytes"])
    aad = _body_aad(str(header["archive_id"]), seg)
    counter = 0
    chunk = f.read(seg + TAG)
    while True:
        if len(chunk) < TAG:
            raise ArchiveError("truncated archive: the final segment is missing")
        following = f.read(seg + TAG)
        final = not following
        try:
            yield aead.decrypt(_nonce(counter, final), chunk, aad)
        except InvalidTag as exc:
            what = "truncated or tampered with" if final else "tampered with"
            raise ArchiveError(f"segment {counter} does not decrypt: the archive was {what}") from exc
        if final:
            return
        counter += 1
        chunk = following


class DecryptingReader(io.RawIOBase):
    """A read-only stream over decrypt_segments, for tarfile's streaming mode."""

    def __init__(self, f: IO[bytes], keys: BackupKeys) -> None:
        super().__init__()
        self._it = decrypt_segments(f, keys)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            nxt = next(self._it, None)
            if nxt is None:
                return 0
            self._buf = nxt
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def safe_member_name(name: str) -> str:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts or name != p.as_posix():
        raise ArchiveError(f"unsafe member name {name!r}")
    return name


class _HashingSink(io.RawIOBase):
    def __init__(self, f: IO[bytes]) -> None:
        super().__init__()
        self.f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self.f.write(raw)
        self.sha.update(raw)
        self.size += len(raw)
        return len(raw)

    def flush(self) -> None:
        self.f.flush()


@dataclass(frozen=True)
class Written:
    sha256: str  # of the encrypted file
    size: int


def write_archive(out: Path, keys: BackupKeys, archive_id: str, manifest: dict[str, Any],
                  staging: Path, segment_bytes: int) -> Written:
    """Encrypt `manifest` (its `members` already hold each staged file's sha256 and size) followed
    by every member from `staging`, into `out` (written whole, fsynced)."""
    members: dict[str, Any] = manifest["members"]
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw:
        sink = _HashingSink(raw)
        enc = EncryptingWriter(sink, keys, archive_id, segment_bytes)  # type: ignore[arg-type]
        with tarfile.open(fileobj=enc, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
            tar.addfile(_info(MANIFEST, len(body)), io.BytesIO(body))
            for name in sorted(members):
                path = staging / safe_member_name(name)
                with path.open("rb") as f:
                    tar.addfile(_info(name, int(members[name]["size"])), f)
        enc.close()
        raw.flush()
        os.fsync(raw.fileno())
    return Written(sink.sha.hexdigest(), sink.size)


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    return info


def stage_member(staging: Path, name: str) -> Path:
    path = staging / safe_member_name(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def describe_members(staging: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    return {n: {"sha256": sha256_file(staging / n), "size": (staging / n).stat().st_size} for n in names}


def open_archive(path: Path, keys: BackupKeys, extract_to: Path | None = None) -> dict[str, Any]:
    """Decrypt the whole archive and check every member against the manifest; with `extract_to`,
    write the members there too. Returns the manifest. ArchiveError on any difference."""
    with path.open("rb") as f:
        reader = io.BufferedReader(DecryptingReader(f, keys), buffer_size=1024 * 1024)
        manifest: dict[str, Any] | None = None
        seen: set[str] = set()
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for info in tar:
                    if manifest is None:
                        if info.name != MANIFEST or not info.isfile():
                            raise ArchiveError("the archive does not start with its manifest")
                        src = tar.extractfile(info)
                        assert src is not None
                        manifest = json.loads(src.read())
                        continue
                    name = safe_member_name(info.name)
                    expected = manifest["members"].get(name)
                    if expected is None or not info.isfile():
                        raise ArchiveError(f"member {name!r} is not in the manifest")
                    if name in seen:
                        raise ArchiveError(f"member {name!r} appears twice")
                    seen.add(name)
                    src = tar.extractfile(info)
                    assert src is not None
                    h = hashlib.sha256()
                    out: IO[bytes] | None = None
                    if extract_to is not None:
                        target = stage_member(extract_to, name)
                        out = os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
                    try:
                        size = 0
                        while chunk := src.read(_HASH_CHUNK):
                            h.update(chunk)
                            size += len(chunk)
                            if out is not None:
                                out.write(chunk)
                    finally:
                        if out is not None:
                            out.close()
                    if h.hexdigest() != expected["sha256"] or size != int(expected["size"]):
                        raise ArchiveError(f"member {name!r}: checksum differs from the manifest")
        except tarfile.TarError as exc:
            raise ArchiveError(f"the archive's content is not readable: {exc}") from exc
    if manifest is None:
        raise ArchiveError("the archive is empty")
    missing = set(manifest["members"]) - seen
    if missing:
        raise ArchiveError(f"members missing from the archive: {sorted(missing)}")
    return manifest


def rewrap(path: Path, keys: BackupKeys) -> bool:
    """Re-wrap the archive's data key under the newest master key (only the header changes).
    False when it already is. The new file replaces the old one atomically."""
    kid, master = keys.current
    with path.open("rb") as f:
        header = read_header(f)
        if header["kid"] == kid:
            return False
        dek = _unwrap(header, keys)
        tmp = path.with_name(path.name + ".rewrap")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(_header(str(header["archive_id"]), int(header["segment_bytes"]), kid, master, dek))
            while chunk := f.read(_HASH_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    tmp.replace(path)
    return True


def archive_kid(path: Path) -> str:
    with path.open("rb") as f:
        return str(read_header(f)["kid"])
