"""Number formats: 雇用保険被保険者番号, 適用事業所番号, 労働保険番号, 個人番号 (My Number).

Sources: shared/DOMAIN.md A3 and its appendix §8.

* 被保険者番号 / 事業所番号 [確認]: 4-6-1, 11 digits; the last is a check digit whose algorithm is
  **not published** [要確認]. So only the format is validated: an 11-digit number's last digit is
  kept as given and reported `unverified`, never rejected. ``CHECK_DIGIT_HOOK`` is the empty place
  for a confirmed algorithm. Legacy numbers without a check digit (10 digits, 4-6) are accepted and
  never rewritten into "…0" (行政手引 20706: the centre appends the real check digit itself).
  16-digit two-line numbers from before 1981-07-06 are refused with the instruction to enter the
  lower line (the number without its 6-digit birth-date part), since which 10 digits remain is
  for the person holding the card to read, not for us to guess.
* 労働保険番号 [確認]: 府県(2) 所掌(1) 管轄(2) 基幹番号(6) 枝番号(3); no check digit documented.
* 個人番号 [確認]: 11 digits + 1 check digit, 番号法施行令8条; the check digit is the formula of
  総務省令第85号 (平成26年) 5条: 11 − (Σ Pn×Qn mod 11), 0 when the remainder ≤ 1, with Pn the n-th
  digit counted from the right of the first 11 and Qn = n+1 (n ≤ 6), n−5 (n ≥ 7). This one is a
  published algorithm, so a wrong check digit is refused."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

CheckStatus = Literal["unverified", "valid", "absent"]

# A confirmed algorithm goes here (digits of 4+6 → expected check digit). None: format only.
CHECK_DIGIT_HOOK: Callable[[str], str] | None = None

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー]")


class NumberFormatError(ValueError):
    """A number that does not have the required shape; the message is for the person who typed it
    (never containing the number itself)."""


def _digits(text: str) -> str:
    """Full-width digits and separators normalised away (NFKC), separators removed."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))


@dataclass(frozen=True)
class InsuranceNumber:
    """A 4-6-1 number (被保険者番号 or 事業所番号)."""

    office: str  # 4 digits: the ハローワーク that first issued it
    serial: str  # 6 digits
    check: str | None  # 1 digit, or None for a legacy number without one
    check_status: CheckStatus

    @property
    def digits(self) -> str:
        return self.office + self.serial + (self.check or "")

    @property
    def formatted(self) -> str:
        return f"{self.office}-{self.serial}" + (f"-{self.check}" if self.check is not None else "")

    @property
    def legacy(self) -> bool:
        return self.check is None


def _check_status(first10: str, check: str) -> CheckStatus:
    if CHECK_DIGIT_HOOK is None:
        return "unverified"
    if CHECK_DIGIT_HOOK(first10) != check:
        raise NumberFormatError("チェックディジットが一致しません")
    return "valid"


def parse_hihokensha_bango(text: str) -> InsuranceNumber:
    """雇用保険被保険者番号: `1234-567890-1` (or 11 digits), or a legacy `1234-567890` (10 digits)."""
    d = _digits(text)
    if not d.isascii() or not d.isdigit():
        raise NumberFormatError("被保険者番号は数字で入力してください（例: 1234-567890-1）")
    groups = [g for g in _SEPARATORS.split(unicodedata.normalize("NFKC", text).strip()) if g]
    if len(groups) > 1 and tuple(map(len, groups)) not in ((4, 6, 1), (4, 6)):
        raise NumberFormatError("被保険者番号は4桁-6桁-1桁の形で入力してください（例: 1234-567890-1）")
    if len(d) == 16:
        raise NumberFormatError("16桁の旧番号は下段の10桁（生年月日部分を除いた番号）を入力してください")
    if len(d) == 10:
        return InsuranceNumber(d[:4], d[4:], None, "absent")
    if len(d) != 11:
        raise NumberFormatError("被保険者番号は4桁-6桁-1桁の11桁（旧番号は10桁）で入力してください")
    return InsuranceNumber(d[:4], d[4:10], d[10], _check_status(d[:10], d[10]))


def hihokensha_key(text: str) -> str:
    """What tells two 被保険者番号 apart: the office and serial (10 digits). The check digit is derived
    from them, and a legacy number without one (4-6) is the same number as its 4-6-1 form."""
    n = parse_hihokensha_bango(text)
    return n.office + n.serial


def formatted_hihokensha_key(formatted: str) -> str:
    """hihokensha_key of a number already in its stored form (InsuranceNumber.formatted, 4-6-1 or
    4-6, as validation leaves it), without parsing it again: a bulk import has 10,000 of them."""
    if len(formatted) not in (11, 13) or formatted[4] != "-" or formatted[11:12] not in ("", "-"):
        raise ValueError("not a formatted 被保険者番号")
    return formatted[:4] + formatted[5:11]


def parse_jigyosho_bango(text: str) -> InsuranceNumber:
    """雇用保険適用事業所番号: 4-6-1, 11 digits; the check digit is kept, not verified."""
    d = _digits(text)
    if not d.isascii() or not d.isdigit() or len(d) != 11:
        raise NumberFormatError("事業所番号は4桁-6桁-1桁の11桁で入力してください（例: 1301-123456-7）")
    return InsuranceNumber(d[:4], d[4:10], d[10], _check_status(d[:10], d[10]))


SHOSHO = {"1": "労働基準監督署", "3": "公共職業安定所", "7": "労働局（複数事業労働者）[要確認]"}
KIKAN_LAST = {
    "0": "一元適用", "1": "一元適用", "2": "二元適用（雇用）", "3": "二元適用（雇用）",
    "4": "二元適用（労災・林業等）", "5": "二元適用（労災・建設現場）", "6": "二元適用（労災・事務所）",
    "8": "一人親方 特別加入",
}
KIKAN_FIRST = {"9": "事務組合委託", "6": "一括有期事業"}


@dataclass(frozen=True)
class RodoHokenBango:
    """労働保険番号 (14 digits), parsed into its parts (DOMAIN.md A3 table)."""

    fuken: str
    shosho: str
    kankatsu: str
    kikan: str
    eda: str

    @property
    def shosho_meaning(self) -> str | None:
        return SHOSHO.get(self.shosho)

    @property
    def itaku(self) -> bool:
        """基幹番号 starting with 9: the business entrusted its affairs to a 事務組合."""
        return self.kikan[0] == "9"

    @property
    def kikan_first_meaning(self) -> str | None:
        return KIKAN_FIRST.get(self.kikan[0])

    @property
    def kikan_last_meaning(self) -> str | None:
        return KIKAN_LAST.get(self.kikan[-1])


def parse_rodo_hoken_bango(text: str) -> RodoHokenBango:
    d = _digits(text)
    if not d.isascii() or not d.isdigit() or len(d) != 14:
        raise NumberFormatError("労働保険番号は14桁で入力してください（府県2・所掌1・管轄2・基幹番号6・枝番号3）")
    return RodoHokenBango(d[:2], d[2], d[3:5], d[5:11], d[11:])


def my_number_check_digit(first11: str) -> int:
    """総務省令第85号 5条: the check digit of a 個人番号 from its first 11 digits."""
    if len(first11) != 11 or not first11.isascii() or not first11.isdigit():
        raise ValueError("11 digits expected")
    total = 0
    for n in range(1, 12):
        p = int(first11[-n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def normalize_my_number(text: str) -> str:
    """12 digits with a valid check digit, or NumberFormatError (whose message never holds the number)."""
    d = _digits(text)
    if not d.isascii() or not d.isdigit() or len(d) != 12:
        raise NumberFormatError("個人番号は12桁の数字で入力してください")
    if my_number_check_digit(d[:11]) != int(d[11]):
        raise NumberFormatError("個人番号の検査用数字が一致しません。番号を確認してください")
    return d


def mask_my_number(digits: str) -> str:
    """Only the last 4 digits are shown, the rest as `*`."""
    return "*" * (len(digits) - 4) + digits[-4:]
