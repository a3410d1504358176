"""The upload allowlist of the service sheet: exactly these extensions, case-insensitive.

Checked on the sanitised name before a byte of content is read; the content is then checked to
be what the extension says (rules/magic.py)."""

from __future__ import annotations

from typing import Final

# extension → the Content-Type a download is served with (never text/html: ASVS 12.5.2).
CONTENT_TYPES: Final[dict[str, str]] = {
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "png": "image/png",
    "pdf": "application/pdf",
    "zip": "application/zip",
}
ALLOWED: Final[frozenset[str]] = frozenset(CONTENT_TYPES)


def extension_of(name: str) -> str:
    """The last extension, lower-cased, without the dot ("" when there is none).
    `report.pdf.exe` → "exe": only the last one counts, so double extensions do not slip through."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return ""
    return ext.lower()


def allowed_extension(name: str) -> str | None:
    """The extension when it is on the allowlist, else None."""
    ext = extension_of(name)
    return ext if ext in ALLOWED else None


def content_type_for(ext: str) -> str:
    return CONTENT_TYPES[ext]
