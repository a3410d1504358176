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
