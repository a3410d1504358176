"""資格取得日 / 資格喪失日 (DOMAIN-SHAHO.md §6, §4.5).

* 喪失日 = the day after 退職 or death [確認] N4; the same day for 70歳到達 (厚年 only), the 75th
  birthday (健保) and a transfer starting the same day (M5).
* 同日得喪 (§6.5 [確認] N5): a person aged 60 or over who retires and is rehired by the same employer
  with no gap: 喪失日 = 取得日 = the rehire date, and the new 標準報酬月額 applies from that month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.shakai_hoken.rules.age import age_on, birthday_in, reaching_date
from services.shakai_hoken.rules.months import Month


def loss_date_on_leaving(last_day: date) -> date:
    """喪失日 for a person who leaves (or dies) on `last_day`: the day after."""
    return last_day + timedelta(days=1)


def kounen_loss_date_at_70(birth_date: date) -> date:
    """厚年 喪失日 at 70: the 70歳到達日 itself (the day before the 70th birthday)."""
    return reaching_date(birth_date, 70)


def kenpo_loss_date_at_75(birth_date: date) -> date:
    """健保 喪失日 at 75: the 75th birthday itself."""
    return birthday_in(birth_date, birth_date.year + 75)


@dataclass(frozen=True)
class SameDayRehire:
    loss_date: date
    acquisition_date: date
    new_standard_from: Month


def same_day_rehire(birth_date: date, retired_on: date, rehired_on: date) -> SameDayRehire:
    """同日得喪 (W11): valid only at 60 or over on the 退職日 and with no gap before the rehire."""
    if age_on(birth_date, retired_on) < 60:
        raise ValueError("同日得喪 applies to persons aged 60 or over at retirement")
    if rehired_on != retired_on + timedelta(days=1):
        raise ValueError("同日得喪 needs a rehire on the day after the retirement (no gap)")
    return SameDayRehire(rehired_on, rehired_on, Month.of(rehired_on))
