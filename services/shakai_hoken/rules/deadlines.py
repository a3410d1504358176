"""Filing deadlines of the 社会保険 procedures (DOMAIN-SHAHO.md §14).

"X日以内" counts from the day after the event (民法140条, 初日不算入): the raw deadline is event + 5.
A period deadline that falls on a 行政機関の休日 moves to the next business day (行政機関の休日に関する
法律2条; whether it covers filings to 機構 / 健保組合 is [要確認]: setting ``shift_period_deadlines``,
default on). The 算定基礎届 date 7/10 is a calendar date: moving it is practice ([要確認]; setting
``shift_fixed_dates``, default on). 月額変更届 is 速やかに: no date. The calendar is the shared one
(shared/jp_calendar.py: weekends, 祝日, 12/29–1/3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

from services.shakai_hoken.rules.settings import DEFAULT_SETTINGS, ShahoRuleSettings
from shared.jp_calendar import next_business_day


class Procedure(StrEnum):
    SHUTOKU = "shikaku_shutoku"  # 資格取得届
    SOSHITSU = "shikaku_soshitsu"  # 資格喪失届
    FUYOU = "hifuyousha_ido"  # 被扶養者(異動)届
    SANTEI = "santei_kiso"  # 算定基礎届
    GEPPEN = "getsugaku_henko"  # 月額変更届
    SHOYO = "shoyo_shiharai"  # 賞与支払届
    AGE70 = "nanajussai_totatsu"  # 70歳到達届
    TOKUTEI = "tokutei_tekiyo"  # 特定適用事業所該当届


_PERIOD: dict[Procedure, tuple[int, str]] = {
    Procedure.SHUTOKU: (5, "健保則24条 (L8)"),
    Procedure.SOSHITSU: (5, "健保則29条 (C2)"),
    Procedure.FUYOU: (5, "健保則38条 (L10)"),
    Procedure.SHOYO: (5, "健保則27条 (L6)"),
    Procedure.AGE70: (5, "N6 (日本年金機構 2019-03-15)"),
    Procedure.TOKUTEI: (5, "健保則23条の2 (L13)"),
}


@dataclass(frozen=True)
class Deadline:
    procedure: Procedure
    base_date: date  # the event the rule counts from (取得日, 喪失日, 支払日 …; 7/1 for 算定)
    raw: date | None  # None: 速やかに
    due: date | None
    shifted_by: Literal["none", "law", "practice"]
    source: str


def deadline(procedure: Procedure, event: date,
             settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> Deadline:
    """The deadline of `procedure` for an event on `event` (for 算定基礎届: any date of the year)."""
    if procedure is Procedure.GEPPEN:
        return Deadline(procedure, event, None, None, "none", "健保則26条 速やかに (L9)")
    if procedure is Procedure.SANTEI:
        raw = date(event.year, 7, 10)
        due = next_business_day(raw) if settings.shift_fixed_dates else raw
        return Deadline(procedure, date(event.year, 7, 1), raw, due,
                        "practice" if due != raw else "none", "健保則25条 7/10 (L5); 休日の繰越しは実務 [要確認]")
    days, source = _PERIOD[procedure]
    raw = event + timedelta(days=days)
    due = next_business_day(raw) if settings.shift_period_deadlines else raw
    return Deadline(procedure, event, raw, due, "law" if due != raw else "none",
                    source + "; 行政機関の休日に関する法律2条 [要確認: 機構・組合への届出]")
