"""Who may entrust work to a 労働保険事務組合: the size limit by main business (DOMAIN.md B9).

徴収則62条2項 (text on rodo.co.jp/laws/117998/, version in force from 2024-11-01): the
常時使用労働者 of the whole enterprise may number no more than

* 50 — 金融業, 保険業, 不動産業, 小売業;
* 100 — 卸売業, サービス業;
* 300 — all others.

Some leaflets put サービス業 under 50; the 省令 says 100 and is followed. jimukumiai.net also
counts 清掃業, 火葬業, と畜業, 自動車修理業 and 機械修理業 outside サービス業 (so under 300)
**[要確認]**: the main business is chosen by the user, never derived from the 労災 code here.
A temporary excess over the limit does not matter (the service lets an update say so)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.jimukumiai.rules.rates import Dated, in_force


class MainBusiness(StrEnum):
    FINANCE = "finance"  # 金融業
    INSURANCE = "insurance"  # 保険業
    REAL_ESTATE = "real_estate"  # 不動産業
    RETAIL = "retail"  # 小売業
    WHOLESALE = "wholesale"  # 卸売業
    SERVICE = "service"  # サービス業
    OTHER = "other"  # その他


SIZE_LIMITS: tuple[Dated[Mapping[MainBusiness, int]], ...] = (
    # Dated by the version of the text read; earlier versions were not compared. The limit is
    # checked when a member is registered or its size changes, so today's row is the one used.
    Dated(date(2024, 11, 1), {
        MainBusiness.FINANCE: 50, MainBusiness.INSURANCE: 50, MainBusiness.REAL_ESTATE: 50, MainBusiness.RETAIL: 50,
        MainBusiness.WHOLESALE: 100, MainBusiness.SERVICE: 100, MainBusiness.OTHER: 300,
    }, "徴収則62条2項 (rodo.co.jp/laws/117998/)"),
)


@dataclass(frozen=True)
class SizeCheck:
    workers: int
    limit: int

    @property
    def allowed(self) -> bool:
        return self.workers <= self.limit


def limit_for(main_business: MainBusiness, on: date) -> int:
    return in_force(SIZE_LIMITS, on, "委託事業主の規模").value[main_business]


def check(workers: int, main_business: MainBusiness, on: date) -> SizeCheck:
    if workers < 0:
        raise ValueError("常時使用労働者数 is never negative")
    return SizeCheck(workers, limit_for(main_business, on))
