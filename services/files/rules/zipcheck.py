"""ZIP inspection before anything is extracted (ASVS 12.1.2; PLATFORM-NOTES §6.3).

Order: the end-of-central-directory record's entry count (before the directory is even parsed,
so a million-entry directory never becomes a million objects), then per member from the central
directory: path (absolute, drive letters, `..`, backslashes, controls), type (symlinks,
encryption), extension (the upload allowlist, for plain ZIPs), declared sizes (total, ratio),
overlapping entries (the non-recursive bomb); only then are members read — through zipfile,
which never yields more than the declared size and checks each CRC — to check each member's
content against its extension and to inspect nested archives, at most `max_depth` deep and only
small ones (read in memory)."""

from __future__ import annotations

import io
import itertools
import re
import stat
import struct
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, Final

from services.files.rules import magic
from services.files.rules.extensions import ALLOWED, extension_of

_EOCD: Final = b"PK\x05\x06"
_ZIP64_LOCATOR: Final = b"PK\x06\x07"
_DRIVE: Final = re.compile(r"^[A-Za-z]:")
_READ: Final = 1 << 16


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 500
    max_total_uncompressed: int = 200 * 1024 * 1024
    # Apache POI's rule: an entry may expand at most 100× (entries under 100 KiB are not judged).
    max_ratio: float = 100.0
    ratio_min_bytes: int = 100 * 1024
    # 1: a ZIP may hold ZIPs, which may hold none; 0: no nested archives at all.
    max_depth: int = 1
    max_nested_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True)
class ZipReport:
    members: int
    total_uncompressed: int
    kind: str  # "zip", "docx" or "xlsx"


class ZipRefused(ValueError):
    """Why the archive is refused: a stable reason code and the offending member, if any."""

    def __init__(self, reason: str, detail: str, member: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.member = member


def declared_entries(f: BinaryIO) -> int:
    """The entry count the end-of-central-directory record (or its ZIP64 form) declares."""
    f.seek(0, io.SEEK_END)
    size = f.tell()
    tail_len = min(size, 22 + 0xFFFF)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        raise ZipRefused("corrupt", "ZIPの終端レコードがありません")
    total = struct.unpack_from("<H", tail, at + 10)[0]
    if total == 0xFFFF:
        loc = tail.rfind(_ZIP64_LOCATOR, 0, at)
        if loc < 0:
            raise ZipRefused("corrupt", "ZIP64の終端レコードがありません")
        eocd64 = struct.unpack_from("<Q", tail, loc + 8)[0]
        f.seek(eocd64)
        record = f.read(56)
        if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
            raise ZipRefused("corrupt", "ZIP64の終端レコードが壊れています")
        total = struct.unpack_from("<Q", record, 32)[0]
    return int(total)


def check_member_path(name: str) -> None:
    """Refuse names that would land outside the extraction folder or hide what they are."""
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise ZipRefused("path", "ZIP内のファイル名に制御文字が含まれています", name)
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise ZipRefused("path", "ZIP内に絶対パスのファイルがあります", name)
    if "\\" in name:
        raise ZipRefused("path", "ZIP内のファイル名に「\\」が含まれています", name)
    if any(part == ".." for part in name.split("/")):
        raise ZipRefused("path", "ZIP内に「..」を含むパスがあります", name)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


DEFAULT_LIMITS = ZipLimits()


def inspect_zip(f: BinaryIO, limits: ZipLimits = DEFAULT_LIMITS, *, allowlist: Iterable[str] | None = ALLOWED,
                depth: int = 0) -> ZipReport:
    """Inspect an archive (a plain ZIP, or an OOXML document when `allowlist` is None: its
    members are XML parts, so only the structural and size rules apply). Raises ZipRefused."""
    allowed = None if allowlist is None else frozenset(allowlist)
    entries = declared_entries(f)
    if entries > limits.max_members:
        raise ZipRefused("too-many-members", f"ZIP内のファイル数が上限({limits.max_members})を超えています")
    f.seek(0)
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ZipRefused("corrupt", "ZIPファイルとして読み取れません") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise ZipRefused("too-many-members", f"ZIP内のファイル数が上限({limits.max_members})を超えています")
        names = [i.filename for i in infos]
        kind = magic.ooxml_kind(names)
        if allowed is not None and kind != "zip":
            raise ZipRefused("ooxml", f"ZIPではなく{'Word' if kind == 'docx' else 'Excel'}のファイルです "
                                      f"(拡張子を .{kind} にしてください)")
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ZipRefused("duplicate", "ZIP内に同じ名前のファイルが複数あります", dup)
        total = 0
        for info in infos:
            check_member_path(info.filename)
            if info.flag_bits & 0x1:
                raise ZipRefused("encrypted", "暗号化されたZIPはウイルス検査ができないため受け付けません",
                                 info.filename)
            if _is_symlink(info):
                raise ZipRefused("symlink", "ZIP内にシンボリックリンクがあります", info.filename)
            if info.is_dir():
                continue
            if allowed is not None and extension_of(info.filename.rsplit("/", 1)[-1]) not in allowed:
                raise ZipRefused("member-type", "ZIP内に許可されていない種類のファイルがあります", info.filename)
            total += info.file_size
            if total > limits.max_total_uncompressed:
                raise ZipRefused("too-large-uncompressed",
                                 f"ZIPの展開後のサイズが上限({limits.max_total_uncompressed}バイト)を超えています")
            if (info.file_size >= limits.ratio_min_bytes
                    and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
                raise ZipRefused("ratio", "圧縮率が異常に高いファイルがあります (ZIP爆弾の疑い)", info.filename)
        _check_no_overlap(infos)
        if allowed is not None:
            for info in infos:
                if not info.is_dir():
                    _check_member_content(zf, info, limits, allowed, depth)
        else:
            for info in infos:  # read every part: CRCs and true sizes, nothing kept
                _drain(zf, info)
    return ZipReport(members=len(infos), total_uncompressed=total, kind=kind)


def _check_no_overlap(infos: list[zipfile.ZipInfo]) -> None:
    """Entries sharing bytes (overlapping local headers) are the non-recursive zip bomb."""
    spans = sorted((i.header_offset, i.header_offset + 30 + len(i.orig_filename.encode("utf-8", "surrogatepass"))
                    + i.compress_size, i.filename) for i in infos)
    for (_, end, _), (start, _, name) in itertools.pairwise(spans):
        if start < end:
            raise ZipRefused("overlap", "ZIP内のファイルが重なっています (ZIP爆弾の疑い)", name)


def _drain(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read a member to its end (zipfile stops at the declared size and checks the CRC);
    answer its first bytes."""
    head = b""
    try:
        with zf.open(info) as member:
            while chunk := member.read(_READ):
                if len(head) < magic.HEAD_BYTES:
                    head += chunk[:magic.HEAD_BYTES]
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise ZipRefused("corrupt", "ZIP内のファイルが壊れています", info.filename) from exc
    return head


def _check_member_content(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits,
                          allowed: frozenset[str], depth: int) -> None:
    ext = extension_of(info.filename.rsplit("/", 1)[-1])
    if ext == "zip":
        if depth + 1 > limits.max_depth:
            raise ZipRefused("nested", "入れ子のZIPは受け付けません" if limits.max_depth == 0
                             else f"ZIPの入れ子は{limits.max_depth}段までです", info.filename)
        if info.file_size > limits.max_nested_bytes:
            raise ZipRefused("nested", "ZIP内のZIPが大きすぎます", info.filename)
        try:
            data = zf.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise ZipRefused("corrupt", "ZIP内のファイルが壊れています", info.filename) from exc
        if not magic.head_matches("zip", data[:magic.HEAD_BYTES]):
            raise ZipRefused("member-content", "ZIP内のファイルの内容が拡張子と一致しません", info.filename)
        try:
            inspect_zip(io.BytesIO(data), limits, allowlist=allowed, depth=depth + 1)
        except ZipRefused as inner:
            raise ZipRefused(inner.reason, inner.detail, f"{info.filename}/{inner.member or ''}".rstrip("/")) from inner
        return
    head = _drain(zf, info)
    if info.file_size == 0:
        return  # an empty placeholder holds no content to disguise
    if not magic.head_matches(ext, head):
        raise ZipRefused("member-content", "ZIP内のファイルの内容が拡張子と一致しません", info.filename)
