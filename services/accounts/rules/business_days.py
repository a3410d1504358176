"""行政機関の休日 and the contract-end schedule (DOMAIN.md C10; SERVICE-SPEC "End of contract").

Business day = not Saturday or Sunday, not a 国民の祝日 (振替休日 and 国民の休日 included, from the
jpholiday package's dated snapshot), and not 12/29–1/3 (行政機関の休日に関する法律 1条).

Contract end (the service sheet's 解約時データ廃棄):
* accounts disabled on the business day after the contract end date (契約解除日の翌営業日に無効化);
* operational data deleted on the business day after the end date (データベース → 契約解除日の翌営業日削除);
* account information deleted on the business day after the end month (契約解除月の翌営業日に削除),
  i.e. the first business day of the following month (SERVICE-SPEC wording).
"After" is strict: the end date itself never counts, even when it is a business day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import jpholiday


def is_year_end_holiday(d: date) -> bool:
    """12/29–1/3, the 年末年始 of 行政機関の休日に関する法律 1条1項3号."""
    return (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)


def is_business_day(d: date) -> bool:
    return d.weekday() < 5 and not jpholiday.is_holiday(d) and not is_year_end_holiday(d)


def business_day_on_or_after(d: date) -> date:
    """A deadline falling on a 行政機関の休日 moves to the next business day (C10 `next_business_day`)."""
    while not is_business_day(d):
        d += timedelta(days=1)
    return d


def next_business_day_after(d: date) -> date:
    """The 翌営業日 of `d`: the first business day strictly after it."""
    return business_day_on_or_after(d + timedelta(days=1))


def end_of_month(d: date) -> date:
    first_next = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


@dataclass(frozen=True)
class ContractEndSchedule:
    contract_end: date
    accounts_disabled_on: date
    data_deleted_on: date
    accounts_deleted_on: date


def contract_end_schedule(contract_end: date) -> ContractEndSchedule:
    following = next_business_day_after(contract_end)
    return ContractEndSchedule(
        contract_end=contract_end,
        accounts_disabled_on=following,
        data_deleted_on=following,
        accounts_deleted_on=next_business_day_after(end_of_month(contract_end)),
    )
