"""Receiving an upload: the request body is read chunk by chunk (never whole), counted against
the limit, hashed, its first bytes checked against the extension, and sealed into a temporary
file as it arrives (segments.py). After the last byte: the whole-file checks (ZIP inspection,
OOXML vs ZIP, Word vs Excel in OLE files). Both the raw PUT and multipart/form-data (through
python-multipart's streaming parser, no spooling) end up in the same `SealedUpload`.

Every refusal is a ProblemError with a stable `type`; `refusal` (extra) names the rule."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from services.files.rules import magic
from services.files.rules.extensions import ALLOWED, allowed_extension, content_type_for, extension_of
from services.files.rules.names import parse_content_disposition_name, upload_name
from services.files.rules.zipcheck import ZipLimits, ZipRefused, inspect_zip
from services.files.segments import SealedReader, SealingWriter, new_file_key
from shared.errors import ProblemError

# Bytes gathered from the request before they are handed to the sealing thread.
FLUSH_BYTES = 1 << 20
MULTIPART_OVERHEAD = 64 * 1024  # as the gateway allows (headers of the part, boundaries)


def refused(status: int, slug: str, title: str, detail: str, **extra: Any) -> ProblemError:
    return ProblemError(status, slug, title, detail, extra=extra)


def too_large(limit: int) -> ProblemError:
    return refused(413, "file-too-large", "ファイルが大きすぎます",
                   f"1ファイルの上限は{limit:,}バイト({limit // (1024 * 1024)} MB)です", limit_bytes=limit)


def type_not_allowed(ext: str) -> ProblemError:
    allowed = " ".join(f".{e}" for e in sorted(ALLOWED))
    return refused(415, "file-type-not-allowed", "この種類のファイルはアップロードできません",
                   f"アップロードできるのは {allowed} です", extension=ext or None)


def content_mismatch(ext: str) -> ProblemError:
    return refused(415, "file-content-mismatch", "ファイルの内容が拡張子と一致しません",
                   f"「.{ext}」のファイルとして読み取れません。ファイルの種類を確認してください", extension=ext)


def empty_file() -> ProblemError:
    return refused(422, "file-empty", "空のファイルはアップロードできません", "ファイルの中身がありません")


def bad_name(reason: str) -> ProblemError:
    return refused(422, "file-name-invalid", "ファイル名が正しくありません", reason)


def zip_refused(exc: ZipRefused) -> ProblemError:
    return refused(422, "zip-refused", "このZIPファイルは受け付けられません", exc.detail, reason=exc.reason,
                   member=exc.member)


def bad_multipart(detail: str) -> ProblemError:
    return refused(400, "multipart-invalid", "マルチパートの形式が正しくありません", detail)


def check_name(raw: str | None) -> tuple[str, str]:
    """(sanitised name, extension) or a refusal — before any content is read."""
    if raw is None or not raw.strip():
        raise bad_name("ファイル名を指定してください")
    try:
        name = upload_name(raw)
    except ValueError as exc:
        raise bad_name(str(exc)) from exc
    ext = allowed_extension(name)
    if ext is None:
        raise type_not_allowed(extension_of(name))
    return name, ext


class SealedUpload:
    """One file being received: counted, hashed, head-checked and sealed as it streams."""

    def __init__(self, tmp_dir: Path, name: str, ext: str, max_bytes: int, aad: bytes) -> None:
        self.name = name
        self.ext = ext
        self.content_type = content_type_for(ext)
        self.max_bytes = max_bytes
        self.key = new_file_key()
        self.aad = aad
        tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = tmp_dir / f"{uuid.uuid4().hex}.sealed"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._writer = SealingWriter(self._file, self.key, aad)
        self._sha = hashlib.sha256()
        self._head = b""
        self._head_checked = False
        self.size = 0
        self.sha256 = ""
        self.sealed_size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        if not self._head_checked:
            self._head += data[:magic.HEAD_BYTES - len(self._head)]
            if len(self._head) >= magic.HEAD_BYTES:
                self._check_head()
        self._sha.update(data)
        self._writer.write(data)

    def _check_head(self) -> None:
        self._head_checked = True
        if not magic.head_matches(self.ext, self._head):
            raise content_mismatch(self.ext)

    def finish(self) -> None:
        if self.size == 0:
            raise empty_file()
        if not self._head_checked:
            self._check_head()
        self._writer.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.sha256 = self._sha.hexdigest()
        self.sealed_size = self.path.stat().st_size

    def reader(self) -> SealedReader:
        return SealedReader(self.path.open("rb"), self.key, self.aad)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def verify_content(self, zip_limits: ZipLimits) -> None:
        """The whole-file checks: what the head could not settle."""
        expected = magic.EXPECTED[self.ext]
        if expected in ("zip", "docx", "xlsx"):
            with self.reader() as r:
                try:
                    report = inspect_zip(r, zip_limits, allowlist=ALLOWED if expected == "zip" else None)  # type: ignore[arg-type]
                except ZipRefused as exc:
                    if exc.reason == "ooxml":
                        raise content_mismatch(self.ext) from exc
                    raise zip_refused(exc) from exc
            if report.kind != expected:
                raise content_mismatch(self.ext)
        elif expected in ("doc", "xls"):
            with self.reader() as r:
                if magic.ole_kind(r) != expected:  # type: ignore[arg-type]
                    raise content_mismatch(self.ext)


async def _pump(chunks: AsyncIterator[bytes], write: Callable[[bytes], None]) -> None:
    """Hand the body to `write` (in a worker thread) in pieces of about FLUSH_BYTES."""
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) >= FLUSH_BYTES:
            data = bytes(buf)
            buf.clear()
            await asyncio.to_thread(write, data)
    if buf:
        await asyncio.to_thread(write, bytes(buf))


async def receive_raw(chunks: AsyncIterator[bytes], upload: SealedUpload) -> None:
    await _pump(chunks, upload.write)
    await asyncio.to_thread(upload.finish)


class MultipartReceiver:
    """multipart/form-data with exactly one part, `file`, carrying a filename. Other parts are
    refused (metadata travels in the query). The part's name is checked as soon as its headers
    are parsed, so a disallowed file is refused before its content is stored."""

    def __init__(self, content_type: str, open_upload: Callable[[str, str], SealedUpload], max_bytes: int) -> None:
        ctype, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise bad_multipart("Content-Type は boundary 付きの multipart/form-data にしてください")
        self._open = open_upload
        self.upload: SealedUpload | None = None
        self._headers: dict[str, str] = {}
        self._field = b""
        self._value = b""
        self._pending: list[bytes] = []
        self._in_file = False
        self._parts = 0
        self._error: ProblemError | None = None
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add("_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }, max_size=max_bytes + MULTIPART_OVERHEAD)

    def _add(self, attr: str, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)

    def _part_begin(self) -> None:
        self._parts += 1
        self._headers = {}
        self._in_file = False

    def _header_end(self) -> None:
        # Raw bytes kept (latin-1 maps them 1:1): the file name is UTF-8 and decoded strictly below.
        self._headers[self._field.decode("latin-1").strip().lower()] = self._value.decode("latin-1")
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        if self._error is not None:
            return
        header = self._headers.get("content-disposition", "")
        disposition, params = parse_options_header(header.encode("latin-1"))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if disposition != b"form-data" or name != "file" or self._parts > 1:
            self._error = bad_multipart("「file」という名前のパートを1つだけ送ってください")
            return
        raw = params.get(b"filename")
        self._in_file = True
        try:
            if raw is not None:
                filename: str | None = raw.decode("utf-8", "strict")
            else:  # RFC 7578 discourages filename*, but accept it
                filename = parse_content_disposition_name(header)
        except (UnicodeDecodeError, ValueError):
            self._error = bad_name("ファイル名は UTF-8 にしてください")
            return
        try:
            name, ext = check_name(filename)
            self.upload = self._open(name, ext)
        except ProblemError as exc:
            self._error = exc

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file and self._error is None:
            self._pending.append(data[start:end])

    async def receive(self, chunks: AsyncIterator[bytes]) -> SealedUpload:
        async for chunk in chunks:
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise bad_multipart("マルチパートを解析できません") from exc
            if self._error is not None:
                raise self._error
            if self.upload is not None and sum(len(p) for p in self._pending) >= FLUSH_BYTES:
                await self._flush()
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise bad_multipart("マルチパートが途中で終わっています") from exc
        if self._error is not None:
            raise self._error
        if self.upload is None:
            raise bad_multipart("「file」パートがありません")
        await self._flush()
        await asyncio.to_thread(self.upload.finish)
        return self.upload

    async def _flush(self) -> None:
        if self.upload is None or not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        await asyncio.to_thread(self.upload.write, data)
