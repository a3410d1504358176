"""Premium rates as dated data (DOMAIN-SHAHO.md §3), each by premium month (the month the premium
is for, not the pay month: §4.2).

* 厚生年金保険 18.300 % from 2017-09分 [確認] R1, R2; employer-only 子ども・子育て拠出金 0.36 % [確認] R2, K6.
* 協会けんぽ 都道府県単位保険料率: R7 from 2025-03分, R8 from 2026-03分 [確認] K3b, T3, K6. The 20 R7
  values resting on K3b alone are flagged ``R7_SINGLE_SOURCE`` ([要確認], §3.2; open question 1).
* 介護保険料率 (第2号): 1.59 % from 2025-03分, 1.62 % from 2026-03分 [確認] K1, K2, K3, K6.
* 子ども・子育て支援金率: 0.23 % from 2026-04分 [確認] K3, K5, K6, T2 (its later rise is [要確認]).
* 健康保険組合: own rates and employee shares per 組合 (§3.3), passed in as ``KumiaiRates`` data."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.shakai_hoken.rules.months import Month


@dataclass(frozen=True)
class Dated:
    effective_from: Month  # first premium month
    rate: Decimal  # per cent
    source: str


def _in_force(entries: tuple[Dated, ...], month: Month) -> Dated | None:
    live = [e for e in entries if e.effective_from <= month]
    return max(live, key=lambda e: e.effective_from) if live else None


KOUNEN_RATES: tuple[Dated, ...] = (
    Dated(Month(2017, 9), Decimal("18.300"), "厚年法81条 (2017-09分で引上げ終了); R1, R2"),
)
KODOMO_KYOSHUTSUKIN_RATES: tuple[Dated, ...] = (
    Dated(Month(2020, 4), Decimal("0.36"), "子ども・子育て拠出金 0.36% (R7/R8 据置き); R2, K6"),
)
KAIGO_RATES: tuple[Dated, ...] = (
    Dated(Month(2025, 3), Decimal("1.59"), "協会けんぽ R7 介護保険料率; K1, K2"),
    Dated(Month(2026, 3), Decimal("1.62"), "協会けんぽ R8 介護保険料率; K3, K6"),
)
SHIENKIN_RATES: tuple[Dated, ...] = (
    Dated(Month(2026, 4), Decimal("0.23"), "子ども・子育て支援金率 2026-04分から; K3, K5, K6, T2"),
)

# code,都道府県,R7 (2025-03分〜),R8 (2026-03分〜) — DOMAIN-SHAHO.md §3.2
_PREFECTURES = """
01,北海道,10.31,10.28
02,青森県,9.85,9.85
03,岩手県,9.62,9.51
04,宮城県,10.11,10.10
05,秋田県,10.01,10.01
06,山形県,9.75,9.75
07,福島県,9.62,9.50
08,茨城県,9.67,9.52
09,栃木県,9.82,9.82
10,群馬県,9.77,9.68
11,埼玉県,9.76,9.67
12,千葉県,9.79,9.73
13,東京都,9.91,9.85
14,神奈川県,9.92,9.92
15,新潟県,9.55,9.21
16,富山県,9.65,9.59
17,石川県,9.88,9.70
18,福井県,9.94,9.71
19,山梨県,9.89,9.55
20,長野県,9.69,9.63
21,岐阜県,9.93,9.80
22,静岡県,9.80,9.61
23,愛知県,10.03,9.93
24,三重県,9.99,9.77
25,滋賀県,9.97,9.88
26,京都府,10.03,9.89
27,大阪府,10.24,10.13
28,兵庫県,10.16,10.12
29,奈良県,10.02,9.91
30,和歌山県,10.19,10.06
31,鳥取県,9.93,9.86
32,島根県,9.94,9.94
33,岡山県,10.17,10.05
34,広島県,9.97,9.78
35,山口県,10.36,10.15
36,徳島県,10.47,10.24
37,香川県,10.21,10.02
38,愛媛県,10.18,9.98
39,高知県,10.13,10.05
40,福岡県,10.31,10.11
41,佐賀県,10.78,10.55
42,長崎県,10.41,10.06
43,熊本県,10.12,10.08
44,大分県,10.25,10.08
45,宮崎県,10.09,9.77
46,鹿児島県,10.31,10.13
47,沖縄県,9.44,9.44
"""

PREFECTURE_NAMES: dict[str, str] = {}
KYOKAI_RATES: dict[str, tuple[Dated, ...]] = {}
for _line in _PREFECTURES.strip().splitlines():
    _code, _name, _r7, _r8 = _line.split(",")
    PREFECTURE_NAMES[_code] = _name
    KYOKAI_RATES[_code] = (
        Dated(Month(2025, 3), Decimal(_r7), "協会けんぽ R7 都道府県単位保険料率; K3b"),
        Dated(Month(2026, 3), Decimal(_r8), "協会けんぽ R8 都道府県単位保険料率; K3b, T3 insurance-r8.json"),
    )

R7_SINGLE_SOURCE: frozenset[str] = frozenset({
    "宮城", "秋田", "茨城", "栃木", "富山", "長野", "岐阜", "愛知", "三重", "滋賀",
    "和歌山", "鳥取", "島根", "岡山", "広島", "山口", "愛媛", "高知", "宮崎", "鹿児島",
})
"""R7 values resting on K3b only ([要確認] against kyoukaikenpo.or.jp …/r07/250214/)."""


@dataclass(frozen=True)
class KumiaiRates:
    """A 健康保険組合's own rates (§3.3): totals and the employee's part, per cent, from a premium month.
    The employer may bear more than half (健保法162条), so the employee part is data, not total / 2."""

    effective_from: Month
    health_rate: Decimal
    health_employee_rate: Decimal
    kaigo_rate: Decimal
    kaigo_employee_rate: Decimal


@dataclass(frozen=True)
class HealthRates:
    """The rates that apply to one premium month for one insurer."""

    general: Decimal  # 一般保険料率 (per cent)
    general_employee: Decimal
    kaigo: Decimal
    kaigo_employee: Decimal
    shienkin: Decimal  # 0 before 2026-04
    shienkin_employee: Decimal
    source: str


def kyokai_prefecture_codes() -> list[str]:
    return sorted(KYOKAI_RATES)


def kyokai_health_rates(prefecture: str, month: Month) -> HealthRates:
    """協会けんぽ rates of `prefecture` (JIS code 01–47) for premium month `month`; split half and half."""
    if prefecture not in KYOKAI_RATES:
        raise ValueError(f"unknown prefecture code {prefecture!r}")
    general = _in_force(KYOKAI_RATES[prefecture], month)
    kaigo = _in_force(KAIGO_RATES, month)
    if general is None or kaigo is None:
        raise ValueError(f"no 協会けんぽ rates recorded for premium month {month}")
    shienkin = _in_force(SHIENKIN_RATES, month)
    s = shienkin.rate if shienkin else Decimal(0)
    half = Decimal(2)
    return HealthRates(general.rate, general.rate / half, kaigo.rate, kaigo.rate / half, s, s / half,
                       general.source)


def kumiai_health_rates(entries: tuple[KumiaiRates, ...], month: Month) -> HealthRates:
    """A 組合's rates for premium month `month`. 支援金 is the national rate, split half and half
    ([要確認] for 組合 with a different split; K5 confirms the 0.23 % rate only)."""
    live = [e for e in entries if e.effective_from <= month]
    if not live:
        raise ValueError(f"no 組合 rates recorded for premium month {month}")
    e = max(live, key=lambda x: x.effective_from)
    shienkin = _in_force(SHIENKIN_RATES, month)
    s = shienkin.rate if shienkin else Decimal(0)
    return HealthRates(e.health_rate, e.health_employee_rate, e.kaigo_rate, e.kaigo_employee_rate,
                       s, s / 2, "健康保険組合の保険料率 (組合のデータ)")


def kounen_rate(month: Month) -> Dated:
    r = _in_force(KOUNEN_RATES, month)
    if r is None:
        raise ValueError(f"no 厚年 rate recorded for premium month {month}")
    return r


def kodomo_kyoshutsukin_rate(month: Month) -> Decimal:
    r = _in_force(KODOMO_KYOSHUTSUKIN_RATES, month)
    return r.rate if r else Decimal(0)

