"""Rates and limits as data with an effective-from date (DOMAIN.md A5, B6, B9).

Never constants in code: each table is a tuple of `Dated` rows, and the row in force on a day is
the latest whose `effective_from` is on or before it. Adding next year's rates is one more row
here plus a test (tests/jimukumiai/test_rates.py); no code changes. A day before the first row of
a table has no rate: `RateNotFound`, never a guess (e.g. the 令和5年度 労災保険率 are not tabled,
so a FY2023 確定 for 労災 is refused, not computed at the R6 rates).

Fiscal years (年度) run 4/1–3/31; a fiscal-year lookup uses its 4/1."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class RateNotFound(LookupError):
    """No row of the table is in force on the day asked, or the code is not in it."""


@dataclass(frozen=True)
class Dated(Generic[T]):
    effective_from: date
    value: T
    source: str


def in_force(table: Sequence[Dated[T]], on: date, what: str = "rate") -> Dated[T]:
    """The row in force on `on`: the latest effective_from ≤ on."""
    best: Dated[T] | None = None
    for row in table:
        if row.effective_from <= on and (best is None or row.effective_from > best.effective_from):
            best = row
    if best is None:
        raise RateNotFound(f"no {what} table in force on {on.isoformat()}")
    return best


def fiscal_year_start(fiscal_year: int) -> date:
    return date(fiscal_year, 4, 1)


def fiscal_year_end(fiscal_year: int) -> date:
    return date(fiscal_year + 1, 3, 31)


def fiscal_year_of(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


# ---------------------------------------------------------------- 雇用保険料率 (A5)


class KoyoKubun(StrEnum):
    """雇用保険の事業区分."""

    IPPAN = "ippan"  # 一般の事業 (also 園芸サービス, 牛馬の育成, 酪農, 養鶏, 養豚, 内水面養殖, 特定の船員)
    NORIN_SHUZO = "norin_shuzo"  # 農林水産・清酒製造の事業
    KENSETSU = "kensetsu"  # 建設の事業


@dataclass(frozen=True)
class KoyoRate:
    """Per 1,000 of wages. The employer share includes 雇用保険二事業 (employer only)."""

    worker: Decimal
    employer: Decimal

    @property
    def total(self) -> Decimal:
        return self.worker + self.employer


def _koyo(ippan: tuple[str, str], norin: tuple[str, str], kensetsu: tuple[str, str]) -> Mapping[KoyoKubun, KoyoRate]:
    return {
        KoyoKubun.IPPAN: KoyoRate(Decimal(ippan[0]), Decimal(ippan[1])),
        KoyoKubun.NORIN_SHUZO: KoyoRate(Decimal(norin[0]), Decimal(norin[1])),
        KoyoKubun.KENSETSU: KoyoRate(Decimal(kensetsu[0]), Decimal(kensetsu[1])),
    }


KOYO_RATES: tuple[Dated[Mapping[KoyoKubun, KoyoRate]], ...] = (
    Dated(date(2023, 4, 1), _koyo(("6", "9.5"), ("7", "10.5"), ("7", "11.5")),
          "令和5年度: MHLW 001050206.pdf (via e-romushi.com/archives/1483, e-src.com)"),
    Dated(date(2024, 4, 1), _koyo(("6", "9.5"), ("7", "10.5"), ("7", "11.5")),
          "令和6年度: unchanged from 令和5 (solare-sr.com/post-6549)"),
    Dated(date(2025, 4, 1), _koyo(("5.5", "9"), ("6.5", "10"), ("6.5", "11")),
          "令和7年度: MHLW 001401966.pdf (via e-romushi.com/archives/2020, sr-keyaki.jp, ymkaikei.co.jp)"),
    Dated(date(2026, 4, 1), _koyo(("5", "8.5"), ("6", "9.5"), ("6", "10.5")),
          "令和8年度: MHLW mhlw.go.jp/stf/seisakunitsuite/bunya/0000108634.html (via tetra-sr.jp, "
          "takadaroumu.jp citing 東京労働局); 労政審 部会 2025-12-19"),
)


def koyo_rate(kubun: KoyoKubun, on: date) -> KoyoRate:
    return in_force(KOYO_RATES, on, "雇用保険料率").value[kubun]


# ---------------------------------------------------------------- 労災保険率 (B6)


@dataclass(frozen=True)
class RousaiType:
    """One 事業の種類 of 徴収則 別表第一 (2-digit 番号) and its rate per 1,000."""

    code: str
    name: str
    rate: Decimal


def _rousai(rows: Sequence[tuple[str, str, str]]) -> Mapping[str, RousaiType]:
    return {code: RousaiType(code, name, Decimal(rate)) for code, name, rate in rows}


_R6 = (
    ("02", "林業", "52"), ("03", "林業", "52"),
    ("11", "海面漁業 (定置網漁業又は海面魚類養殖業を除く)", "18"),
    ("12", "定置網漁業又は海面魚類養殖業", "37"),
    ("21", "金属鉱業、非金属鉱業 (石灰石鉱業又はドロマイト鉱業を除く) 又は石炭鉱業", "88"),
    ("23", "石灰石鉱業又はドロマイト鉱業", "13"),
    ("24", "原油又は天然ガス鉱業", "2.5"),
    ("25", "採石業", "37"),
    ("26", "その他の鉱業", "26"),
    ("31", "水力発電施設、ずい道等新設事業", "34"),
    ("32", "道路新設事業", "11"),
    ("33", "舗装工事業", "9"),
    ("34", "鉄道又は軌道新設事業", "9"),
    ("35", "建築事業 (既設建築物設備工事業を除く)", "9.5"),
    ("38", "既設建築物設備工事業", "12"),
    ("36", "機械装置の組立て又は据付けの事業", "6"),
    ("37", "その他の建設事業", "15"),
    ("41", "食料品製造業", "5.5"),
    ("42", "繊維工業又は繊維製品製造業", "4"),
    ("44", "木材又は木製品製造業", "13"),
    ("45", "パルプ又は紙製造業", "7"),
    ("46", "印刷又は製本業", "3.5"),
    ("47", "化学工業", "4.5"),
    ("48", "ガラス又はセメント製造業", "6"),
    ("66", "コンクリート製造業", "13"),
    ("62", "陶磁器製品製造業", "17"),
    ("49", "その他の窯業又は土石製品製造業", "23"),
    ("50", "金属精錬業 (非鉄金属精錬業を除く)", "6.5"),
    ("51", "非鉄金属精錬業", "7"),
    ("52", "金属材料品製造業 (鋳物業を除く)", "5"),
    ("53", "鋳物業", "16"),
    ("54", "金属製品製造業又は金属加工業 (洋食器、刃物、手工具又は一般金物製造業及びめつき業を除く)", "9"),
    ("63", "洋食器、刃物、手工具又は一般金物製造業 (めつき業を除く)", "6.5"),
    ("55", "めつき業", "6.5"),
    ("56", "機械器具製造業 (電気機械器具製造業、輸送用機械器具製造業、船舶製造又は修理業及び計量器、光学機械、"
           "時計等製造業を除く)", "5"),
    ("57", "電気機械器具製造業", "3"),
    ("58", "輸送用機械器具製造業 (船舶製造又は修理業を除く)", "4"),
    ("59", "船舶製造又は修理業", "23"),
    ("60", "計量器、光学機械、時計等製造業 (電気機械器具製造業を除く)", "2.5"),
    ("64", "貴金属製品、装身具、皮革製品等製造業", "3.5"),
    ("61", "その他の製造業", "6"),
    ("71", "交通運輸事業", "4"),
    ("72", "貨物取扱事業 (港湾貨物取扱事業及び港湾荷役業を除く)", "8.5"),
    ("73", "港湾貨物取扱事業 (港湾荷役業を除く)", "9"),
    ("74", "港湾荷役業", "12"),
    ("81", "電気、ガス、水道又は熱供給の事業", "3"),
    ("95", "農業又は海面漁業以外の漁業", "13"),
    ("91", "清掃、火葬又はと畜の事業", "13"),
    ("93", "ビルメンテナンス業", "6"),
    ("96", "倉庫業、警備業、消毒又は害虫駆除の事業又はゴルフ場の事業", "6.5"),
    ("97", "通信業、放送業、新聞業又は出版業", "2.5"),
    ("98", "卸売業・小売業、飲食店又は宿泊業", "3"),
    ("99", "金融業、保険業又は不動産業", "2.5"),
    ("94", "その他の各種事業", "3"),
    ("90", "船舶所有者の事業", "42"),
)

ROUSAI_RATES: tuple[Dated[Mapping[str, RousaiType]], ...] = (
    Dated(date(2024, 4, 1), _rousai(_R6),
          "徴収則 別表第一 as amended by 令和6年厚生労働省令第21号 (in force 2024-04-01); 90 船舶所有者: 則16条; "
          "codes and rates cross-checked: godo-sr.com/2024/03/21, kishida-devil/jp-payroll-mcp workers-comp-r6.json"),
)


def rousai_type(code: str, on: date) -> RousaiType:
    table = in_force(ROUSAI_RATES, on, "労災保険率").value
    try:
        return table[code]
    except KeyError:
        raise RateNotFound(f"労災 事業の種類 {code!r} is not in the table in force on {on.isoformat()}") from None


def rousai_codes(on: date) -> Mapping[str, RousaiType]:
    return in_force(ROUSAI_RATES, on, "労災保険率").value


# ---------------------------------------------------------------- 一般拠出金 (B6)

GENERAL_CONTRIBUTION_RATES: tuple[Dated[Decimal], ...] = (
    # 0.05/1000 before 2014-04-01; its first day is not noted, so it is not tabled.
    Dated(date(2014, 4, 1), Decimal("0.02"),
          "石綿健康被害救済法; 0.02/1000 since 2014-04-01 (kanagawa / fukushima 労働局, hirota-sr.com)"),
)


def general_contribution_rate(on: date) -> Decimal:
    return in_force(GENERAL_CONTRIBUTION_RATES, on, "一般拠出金率").value


# ---------------------------------------------------------------- 特別加入 給付基礎日額 (B9)

DAILY_AMOUNT_LEVELS: tuple[Dated[tuple[int, ...]], ...] = (
    # The table as read (rousai-ric.or.jp/tabid/180); its earlier history is not recorded, so the
    # row starts with the 労災 rates it is used with.
    Dated(date(2024, 4, 1), (3_500, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 10_000, 12_000, 14_000,
                             16_000, 18_000, 20_000, 22_000, 24_000, 25_000),
          "第1種特別加入 給付基礎日額 16 levels (rousai-ric.or.jp/tabid/180)"),
)


def daily_amount_levels(on: date) -> tuple[int, ...]:
    return in_force(DAILY_AMOUNT_LEVELS, on, "給付基礎日額").value


# ---------------------------------------------------------------- 報奨金 (B9) [要確認 after 2024]


@dataclass(frozen=True)
class RewardTerms:
    """報奨金に関する政令 2条 / 省令 1条. The 2024 restructuring (省令第139号, 2024-10-15) re-pointed
    the 省令 at 令2条1項; whether the 2 % and the cap survive unchanged is **[要確認]**."""

    min_collection_rate: Decimal  # ≥ this share of the 確定保険料 paid by 7/10
    max_workers: int  # 常時使用労働者数 of the counted 委託事業主
    premium_share: Decimal  # of the premiums paid under those 委託
    cap: int
    # (workers below, amount for both insurances, amount for one) by size band
    small_below: int  # "under 5"
    small_both: int
    small_one: int
    medium_both: int  # 5..max_workers
    medium_one: int


REWARD_TERMS: tuple[Dated[RewardTerms], ...] = (
    # The per-business amounts apply since 2010-04-01 (基発0401第13号); the 2 % is confirmed from
    # 2014 (sr-rouki.com 2014-06) — it was 2.5 % in 2009–2010 — so the row starts with FY2014.
    Dated(date(2014, 4, 1), RewardTerms(Decimal("0.95"), 15, Decimal("0.02"), 10_000_000, 5,
                                        12_400, 6_200, 6_200, 3_100),
          "報奨金に関する政令 (昭和48年政令第195号) 1条・2条; 報奨金に関する省令 1条 "
          "(roren.net, roppou.mark-point.jp)"),
)


def reward_terms(on: date) -> RewardTerms:
    return in_force(REWARD_TERMS, on, "報奨金").value
