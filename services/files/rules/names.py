"""File-name sanitising: a pure function, used by metadata now and by the upload slice later."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 255
# Characters Windows forbids in names; a name travels to staff PCs in downloads and ZIPs.
_RESERVED = re.compile(r'[<>:"|?*]')
_SPACES = re.compile(r"\s+")


def sanitise_file_name(raw: str) -> str:
    """The name a user sees and downloads: the last path segment, NFC, with control, format and
    bidi-override characters removed (they disguise `exe‮fdp.` as `...pdf.exe`), reserved
    characters replaced, whitespace collapsed and leading or trailing dots and spaces trimmed.

    Raises ValueError when nothing usable is left or the result is too long."""
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    # Cc (controls) and Cf (format: bidi overrides, zero-width) never belong in a name.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf"))
    name = _RESERVED.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")
    if not name:
        raise ValueError("ファイル名に使える文字がありません")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"ファイル名は{MAX_NAME_LENGTH}文字以内にしてください")
    return name


def upload_name(raw: str) -> str:
    """The name of an uploaded file: refused (ValueError) when it holds control or format
    characters (NUL, newlines, bidi overrides): an upload with such a name is refused rather
    than silently renamed; otherwise sanitised as above."""
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in raw):
        raise ValueError("ファイル名に制御文字が含まれています")
    return sanitise_file_name(raw)


_ASCII_SAFE = re.compile(r"[^A-Za-z0-9!#$&+\-.^_`|~ ]")


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """`attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266
    with RFC 8187/5987 encoding), so 「資格取得届.pdf」 arrives intact in every current browser and
    older clients still get a safe ASCII name. The name is already sanitised (no quotes, no
    controls); the fallback keeps only token-safe ASCII."""
    from urllib.parse import quote

    fallback = _ASCII_SAFE.sub("_", name).strip() or "download"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def parse_content_disposition_name(header: str) -> str | None:
    """The file name of a `Content-Disposition` request header (raw PUT uploads):
    `filename*=UTF-8''…` (RFC 8187) wins over `filename="…"`. Undecodable → ValueError."""
    from urllib.parse import unquote

    star = re.search(r"filename\*\s*=\s*([^;]+)", header, re.IGNORECASE)
    if star:
        value = star.group(1).strip()
        charset, _, rest = value.partition("'")
        _lang, _, encoded = rest.partition("'")
        if charset.lower() != "utf-8" or not encoded:
            raise ValueError("filename* は UTF-8 で指定してください")
        return unquote(encoded, encoding="utf-8", errors="strict")
    plain = re.search(r'filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', header, re.IGNORECASE)
    if plain:
        quoted, bare = plain.group(1), plain.group(2)
        return re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
    return None
