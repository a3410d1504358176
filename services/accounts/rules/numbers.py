"""労働保険番号 and 雇用保険適用事業所番号 (DOMAIN.md A3).

* 労働保険番号 [確認]: 14 digits, 府県(2) 所掌(1) 管轄(2) 基幹番号(6) 枝番号(3). No check digit is
  documented. Validated: 14 digits, 府県 01–47 (都道府県労働局). 所掌 7 is [要確認] and digits outside
  the documented tables get no meaning: they are accepted and reported in `notes`, never rejected
  on a guess (DOMAIN.md: "never reject user data on a guess").
* 雇用保険適用事業所番号 [確認]: 4-6-1 (ハローワーク 4, serial 6, check digit 1). The check-digit
  algorithm is not public [要確認]: the format alone is validated, the check digit is optional
  (legacy numbers) and `check_digit_verified` always answers None (the empty hook of A3)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PREFECTURES: dict[str, str] = dict(zip(
    [f"{i:02d}" for i in range(1, 48)],
    ["北海道", "青森", "岩手", "宮城", "秋田", "山形", "福島", "茨城", "栃木", "群馬", "埼玉", "千葉", "東京",
     "神奈川", "新潟", "富山", "石川", "福井", "山梨", "長野", "岐阜", "静岡", "愛知", "三重", "滋賀", "京都",
     "大阪", "兵庫", "奈良", "和歌山", "鳥取", "島根", "岡山", "広島", "山口", "徳島", "香川", "愛媛", "高知",
     "福岡", "佐賀", "長崎", "熊本", "大分", "宮崎", "鹿児島", "沖縄"], strict=True))

SHOKAN: dict[str, str] = {
    "1": "労働基準監督署（労災・一元適用）",
    "3": "公共職業安定所（二元適用の雇用保険）",
    "7": "労働局（複数事業労働者）[要確認]",
}
KIKAN_FIRST: dict[str, str] = {"9": "事務組合委託", "6": "一括有期事業"}
KIKAN_LAST: dict[str, str] = {
    "0": "一元適用", "1": "一元適用",
    "2": "二元適用（雇用保険）", "3": "二元適用（雇用保険）",
    "4": "二元適用（労災・林業等）", "5": "二元適用（労災・建設現場）", "6": "二元適用（労災・事務所）",
    "8": "一人親方等の特別加入",
}

_SEPARATORS = re.compile(r"[-‐－―ー−\s]")
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


class NumberFormatError(ValueError):
    """The number does not have the documented shape; the message says why (Japanese)."""


def normalise_digits(raw: str) -> str:
    """Full-width digits to ASCII, hyphens and spaces removed (forms print 13-1-01-912340-001)."""
    return _SEPARATORS.sub("", raw.translate(_FULLWIDTH))


@dataclass(frozen=True)
class LabourInsuranceNumber:
    number: str
    prefecture_code: str
    prefecture: str
    shokan: str
    shokan_meaning: str | None
    kankatsu: str
    kikan: str
    kikan_kind: str | None  # from the first digit of 基幹番号
    kikan_application: str | None  # from its last digit
    edaban: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def formatted(self) -> str:
        n = self.number
        return f"{n[0:2]}-{n[2]}-{n[3:5]}-{n[5:11]}-{n[11:14]}"


def parse_labour_insurance_number(raw: str) -> LabourInsuranceNumber:
    """Parse a 労働保険番号 (A3). Raises NumberFormatError for a wrong shape or 府県."""
    n = normalise_digits(raw)
    if not re.fullmatch(r"[0-9]{14}", n):
        raise NumberFormatError("労働保険番号は14桁の数字です（府県2・所掌1・管轄2・基幹番号6・枝番号3）")
    pref = n[0:2]
    if pref not in PREFECTURES:
        raise NumberFormatError("労働保険番号の府県コードは01〜47です")
    shokan, kikan = n[2], n[5:11]
    notes = []
    if shokan not in SHOKAN:
        notes.append(f"所掌 {shokan} は資料にない値です（未確認）")
    elif shokan == "7":
        notes.append("所掌 7 の意味は未確認です")
    if kikan[-1] not in KIKAN_LAST:
        notes.append(f"基幹番号の末尾 {kikan[-1]} の意味は資料にありません（未確認）")
    return LabourInsuranceNumber(
        number=n, prefecture_code=pref, prefecture=PREFECTURES[pref], shokan=shokan,
        shokan_meaning=SHOKAN.get(shokan), kankatsu=n[3:5], kikan=kikan,
        kikan_kind=KIKAN_FIRST.get(kikan[0], "個別（事務組合委託・一括有期以外）"),
        kikan_application=KIKAN_LAST.get(kikan[-1]), edaban=n[11:14], notes=tuple(notes),
    )


def normalise_office_number(raw: str) -> str:
    """A 雇用保険適用事業所番号 as `dddd-dddddd-d` (or `dddd-dddddd` for a legacy number without
    a check digit). Raises NumberFormatError for any other shape; never judges the check digit."""
    s = raw.translate(_FULLWIDTH).strip()
    s = re.sub(r"[‐－―ー−]", "-", s)
    m = re.fullmatch(r"([0-9]{4})-?([0-9]{6})(?:-?([0-9]))?", s)
    if not m:
        raise NumberFormatError("雇用保険適用事業所番号は 4桁-6桁-1桁 の形式です（例: 1301-123456-7）")
    head, serial, check = m.groups()
    return f"{head}-{serial}-{check}" if check else f"{head}-{serial}"


def check_digit_verified(number: str) -> bool | None:
    """The hook for the check digit of the 事業所番号: None = cannot be verified (algorithm not
    public, A3 [要確認]). Nothing is rejected on it."""
    return None
