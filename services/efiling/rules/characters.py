"""Characters e-Gov refuses, found before anything is sent, each with the field that holds it.

e-Gov's forms take JIS X 0208 (and ASCII); users' data often carries 丸数字 (①), ローマ数字 (Ⅱ),
組文字 (㈱, ㍻), half-width kana (ｶﾅ), variant kanji outside JIS X 0208 (髙, 﨑) and cp932-only
look-alikes (～ U+FF5E, － U+FF0D). Python's `euc_jp` codec is JIS X 0208 (two bytes A1–FE) plus
JIS X 0212 (three bytes, 8F …) and half-width kana (8E …): only the two-byte form and ASCII pass."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CharProblem:
    field: str  # dotted path of the form data, e.g. "被保険者氏名" or "事業主.住所"
    position: int  # 1-based character position in the value
    char: str
    codepoint: str  # "U+2460"
    reason: str
    suggestion: str | None  # a replacement e-Gov accepts, when there is an obvious one


def _reason(ch: str) -> str | None:
    cp = ord(ch)
    if 0x20 <= cp <= 0x7E:
        return None
    if cp < 0x20 or cp == 0x7F or 0x80 <= cp < 0xA0:
        return "制御文字"
    if 0x2460 <= cp <= 0x2473 or 0x3251 <= cp <= 0x325F or 0x32B1 <= cp <= 0x32BF or 0x24EA == cp:
        return "丸数字"
    if 0x2160 <= cp <= 0x217F:
        return "ローマ数字"
    if 0x3200 <= cp <= 0x33FF:
        return "囲み文字・組文字 (㈱ など)"
    if 0xFF61 <= cp <= 0xFF9F:
        return "半角カナ"
    try:
        encoded = ch.encode("euc_jp")
    except UnicodeEncodeError:
        return "JIS X 0208 にない文字 (環境依存文字・異体字)"
    if len(encoded) != 2 or encoded[0] < 0xA1:
        return "JIS X 0208 にない文字 (環境依存文字・異体字)"
    return None


_SPECIAL = {"～": "〜", "－": "−", "㈱": "（株）", "㈲": "（有）", "㈹": "（代）", "髙": "高", "﨑": "崎"}


def _suggest(ch: str) -> str | None:
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch and all(_reason(c) is None for c in folded):
        return folded
    return None


def check_text(field: str, value: str) -> list[CharProblem]:
    out = []
    for i, ch in enumerate(value, start=1):
        reason = _reason(ch)
        if reason is not None:
            out.append(CharProblem(field, i, ch, f"U+{ord(ch):04X}", reason, _suggest(ch)))
    return out


def _leaves(data: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, Mapping):
        for k, v in data.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, Sequence):
        for i, v in enumerate(data):
            yield from _leaves(v, f"{path}[{i}]")


def check_data(data: Any, prefix: str = "") -> list[CharProblem]:
    """Every problem in every string of nested form data, in document order."""
    out: list[CharProblem] = []
    for path, value in _leaves(data, prefix):
        out += check_text(path, value)
    return out


def suggest_value(value: str) -> str | None:
    """The whole value with every refused character replaced, when each has an obvious
    replacement (half-width kana runs are folded together, so ﾀﾞ becomes ダ, not タ゛)."""
    folded = "".join(_SPECIAL.get(ch, ch) for ch in value)
    out = []
    for ch in unicodedata.normalize("NFKC", folded) if any(0xFF61 <= ord(c) <= 0xFF9F for c in folded) else folded:
        if _reason(ch) is None:
            out.append(ch)
            continue
        s = _suggest(ch)
        if s is None:
            return None
        out.append(s)
    return "".join(out)
