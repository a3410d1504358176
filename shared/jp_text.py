"""Japanese text helpers: kana normalisation and the characters e-Gov rejects.

e-Gov forms accept JIS X 0208 only. Rejected, with a reason a person understands: characters
outside JIS X 0208 (e.g. 髙, 﨑), and, named separately because staff type them often, 丸数字 (①),
ローマ数字 (Ⅰ), 組文字 (㈱), and half-width katakana (ｱ). Python's iso2022_jp codec covers exactly
ASCII/JIS X 0201 Roman + JIS X 0208, so it is the test of membership."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class RejectedChar:
    index: int
    char: str
    reason: str  # a Japanese explanation for the person who typed it


def _reason(ch: str) -> str | None:
    code = ord(ch)
    if 0xFF61 <= code <= 0xFF9F:
        return "半角カタカナは使用できません"
    if 0x2460 <= code <= 0x24FF or 0x3251 <= code <= 0x325F or 0x32B1 <= code <= 0x32BF:
        return "丸数字は使用できません"
    if 0x2160 <= code <= 0x217F:
        return "ローマ数字は使用できません"
    if 0x3200 <= code <= 0x33FF:
        return "組文字・単位記号は使用できません"
    if ch in "\t\r\n":
        return None
    if unicodedata.category(ch) in ("Cc", "Cf"):
        return "制御文字は使用できません"
    try:
        ch.encode("iso2022_jp")
    except UnicodeEncodeError:
        return "JIS第1・第2水準以外の文字は使用できません"
    return None


def egov_rejected_chars(text: str) -> list[RejectedChar]:
    """Every character of `text` that e-Gov would reject, with its position and reason."""
    out = []
    for i, ch in enumerate(text):
        reason = _reason(ch)
        if reason:
            out.append(RejectedChar(i, ch, reason))
    return out


def to_fullwidth_katakana(text: str) -> str:
    """Furigana as e-Gov wants it: half-width kana and hiragana become full-width katakana.

    NFKC turns half-width katakana (with their voicing marks) into full-width; hiragana are
    shifted into the katakana block. Spaces become one full-width space between names."""
    text = unicodedata.normalize("NFKC", text)
    shifted = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
    return " ".join(shifted.split()).replace(" ", "\u3000")


def is_katakana_name(text: str) -> bool:
    """Full-width katakana, the prolonged sound mark, middle dot and full-width spaces only."""
    return bool(text) and all(
        "ァ" <= c <= "ヺ" or c in "ー・\u3000" for c in text
    )
