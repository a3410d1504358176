"""Crafted samples for the files tests, made in code (no binary fixtures)."""

from __future__ import annotations

import io
import struct
import zipfile

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20 + b"\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"


def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name) if compression == zipfile.ZIP_STORED else name, data)
    return buf.getvalue()


def docx() -> bytes:
    return zip_bytes({"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>",
                      "word/document.xml": b"<w:document/>"})


def xlsx() -> bytes:
    return zip_bytes({"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>",
                      "xl/workbook.xml": b"<workbook/>"})


def _dir_entry(name: str, kind: int) -> bytes:
    raw = name.encode("utf-16-le") + b"\x00\x00"
    entry = bytearray(128)
    entry[:len(raw)] = raw
    struct.pack_into("<HBB", entry, 64, len(raw), kind, 1)
    struct.pack_into("<III", entry, 68, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    struct.pack_into("<IQ", entry, 116, 0xFFFFFFFE, 0)
    return bytes(entry)


def ole(*streams: str) -> bytes:
    """A minimal compound file (MS-CFB v3, 512-byte sectors): one FAT sector, one directory
    sector holding the root entry and empty streams with the given names."""
    header = bytearray(512)
    header[:8] = bytes.fromhex("d0cf11e0a1b11ae1")
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 40, 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    difat = [0] + [0xFFFFFFFF] * 108
    struct.pack_into("<109I", header, 76, *difat)
    fat = struct.pack("<128I", 0xFFFFFFFD, 0xFFFFFFFE, *([0xFFFFFFFF] * 126))
    entries = _dir_entry("Root Entry", 5) + b"".join(_dir_entry(s, 2) for s in streams[:3])
    directory = entries + b"\x00" * (512 - len(entries))
    return bytes(header) + fat + directory


def doc() -> bytes:
    return ole("WordDocument", "1Table", "\x05SummaryInformation")


def xls() -> bytes:
    return ole("Workbook", "\x05SummaryInformation")


def encrypted_flag(data: bytes) -> bytes:
    """Set the 'encrypted' general-purpose flag on every local and central header."""
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(sig)
        while at >= 0:
            out[at + off] |= 1
            at = out.find(sig, at + 4)
    return bytes(out)


def symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link.pdf")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def overlapping_zip() -> bytes:
    """Two central-directory entries pointing at the same local header (the non-recursive bomb)."""
    data = zip_bytes({"a.pdf": PDF, "b.pdf": PDF}, compression=zipfile.ZIP_STORED)
    out = bytearray(data)
    first = out.find(b"PK\x01\x02")
    second = out.find(b"PK\x01\x02", first + 4)
    offset = struct.unpack_from("<I", out, first + 42)[0]
    struct.pack_into("<I", out, second + 42, offset)
    return bytes(out)
