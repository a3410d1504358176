"""What a file really is, from its bytes (ASVS 12.2.1), never from its name or Content-Type.

`sniff_head` looks at the first bytes only, so a renamed executable is refused while it is still
streaming in. The kinds a head cannot settle are resolved on the whole file:

* a ZIP container is an OOXML document (.docx/.xlsx) when it holds `[Content_Types].xml` and the
  main part of Word (`word/`) or Excel (`xl/`); otherwise it is a plain ZIP (`ooxml_kind`);
* an OLE2 compound file (the legacy .doc/.xls) is Word when its directory names a `WordDocument`
  stream and Excel when it names `Workbook` (or `Book`, Excel 5/95) (`ole_kind`)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import BinaryIO, Final, Literal

Kind = Literal["pdf", "png", "jpeg", "gif", "zip", "ole", "unknown"]
Resolved = Literal["pdf", "png", "jpeg", "gif", "zip", "docx", "xlsx", "doc", "xls", "unknown"]

# How many leading bytes `sniff_head` wants; fewer is fine for a short file.
HEAD_BYTES: Final = 8

OLE_MAGIC: Final = bytes.fromhex("d0cf11e0a1b11ae1")
_SIGNATURES: Final[tuple[tuple[bytes, Kind], ...]] = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    # A local file header; an empty archive is only its end-of-central-directory record.
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (OLE_MAGIC, "ole"),
)

# What each allowed extension must turn out to be.
EXPECTED: Final[dict[str, Resolved]] = {
    "pdf": "pdf", "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif", "zip": "zip",
    "docx": "docx", "xlsx": "xlsx", "doc": "doc", "xls": "xls",
}
# The head kind each extension needs (the first check, while streaming).
HEAD_KIND: Final[dict[str, Kind]] = {
    "pdf": "pdf", "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif",
    "zip": "zip", "docx": "zip", "xlsx": "zip", "doc": "ole", "xls": "ole",
}


def sniff_head(head: bytes) -> Kind:
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    return "unknown"


def head_matches(ext: str, head: bytes) -> bool:
    """Whether the first bytes can be a file of this extension (the streaming check)."""
    return sniff_head(head) == HEAD_KIND.get(ext)


def ooxml_kind(member_names: Iterable[str]) -> Literal["docx", "xlsx", "zip"]:
    """A ZIP's member names → the OOXML document it is, or "zip"."""
    names = set(member_names)
    if "[Content_Types].xml" not in names:
        return "zip"
    if "word/document.xml" in names or any(n.startswith("word/") for n in names):
        return "docx"
    if "xl/workbook.xml" in names or any(n.startswith("xl/") for n in names):
        return "xlsx"
    return "zip"


# --- OLE2 (Compound File Binary, MS-CFB) ---------------------------------------------------

_FREE, _END_OF_CHAIN = 0xFFFFFFFF, 0xFFFFFFFE
_MAX_SECTORS_WALKED: Final = 4096  # a directory longer than this is not a Word/Excel file


class OleError(ValueError):
    """Not a readable compound file."""


def _read_at(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise OleError("truncated compound file")
    return data


def ole_stream_names(f: BinaryIO) -> set[str]:
    """The names in a compound file's directory (MS-CFB §2.2, §2.6). Reads the FAT sectors the
    header's DIFAT and its DIFAT chain list, then follows the directory chain; every chain is
    bounded, so a looping or hostile file ends with OleError rather than spinning."""
    header = _read_at(f, 0, 512)
    if header[:8] != OLE_MAGIC:
        raise OleError("not a compound file")
    shift = struct.unpack_from("<H", header, 30)[0]
    if shift not in (9, 12):
        raise OleError("unsupported sector size")
    size = 1 << shift
    first_dir, = struct.unpack_from("<I", header, 48)
    first_difat, n_difat = struct.unpack_from("<II", header, 68)
    fat_sectors = [s for s in struct.unpack_from("<109I", header, 76) if s not in (_FREE, _END_OF_CHAIN)]
    sector = first_difat
    for _ in range(min(n_difat, _MAX_SECTORS_WALKED)):
        if sector in (_FREE, _END_OF_CHAIN):
            break
        entries = struct.unpack(f"<{size // 4}I", _read_at(f, (sector + 1) * size, size))
        fat_sectors += [s for s in entries[:-1] if s not in (_FREE, _END_OF_CHAIN)]
        sector = entries[-1]

    per_fat = size // 4
    fat_cache: dict[int, tuple[int, ...]] = {}

    def next_sector(s: int) -> int:
        index, slot = divmod(s, per_fat)
        if index >= len(fat_sectors):
            raise OleError("sector outside the FAT")
        if index not in fat_cache:
            fat_cache[index] = struct.unpack(f"<{per_fat}I", _read_at(f, (fat_sectors[index] + 1) * size, size))
        return int(fat_cache[index][slot])

    names: set[str] = set()
    sector, walked = first_dir, 0
    while sector not in (_FREE, _END_OF_CHAIN):
        walked += 1
        if walked > _MAX_SECTORS_WALKED:
            raise OleError("directory chain too long")
        block = _read_at(f, (sector + 1) * size, size)
        for off in range(0, size, 128):
            name_len = struct.unpack_from("<H", block, off + 64)[0]
            if 2 <= name_len <= 64 and block[off + 66] != 0:  # object type 0 = unused entry
                names.add(block[off:off + name_len - 2].decode("utf-16-le", errors="replace"))
        sector = next_sector(sector)
    return names


def ole_kind(f: BinaryIO) -> Literal["doc", "xls", "unknown"]:
    """A compound file → "doc" (Word 97+), "xls" (Excel), or "unknown" (another OLE file:
    PowerPoint, MSI, a stray .msg — not on the allowlist)."""
    try:
        names = ole_stream_names(f)
    except (OleError, struct.error):
        return "unknown"
    if "WordDocument" in names:
        return "doc"
    if "Workbook" in names or "Book" in names:
        return "xls"
    return "unknown"
