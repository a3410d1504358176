"""被保険者負担額: the worker's share of the 雇用保険料 on one wage payment (DOMAIN.md A5).

* Share = wage × the 労働者負担 rate of the fiscal year and 事業区分 (per 1,000; rates.KOYO_RATES,
  data by fiscal year — 令和5・6: 6 / 7 / 7, 令和7: 5.5 / 6.5 / 6.5, 令和8: 5 / 6 / 6 for 一般 /
  農林水産・清酒製造 / 建設). Decimal arithmetic, the fraction below 1 円 kept until it is rounded.
* Rounding of the fraction below 1 円 (the 50銭 rules) [確認: work.keirekisyo.net/hasuu/,
  mazno.net/sharo/hasuu_shori/, an MHLW leaflet as quoted there]:
  - deducted from wages (源泉控除): **50銭以下切り捨て, 50銭を超えれば切り上げ** (1,600.50 → 1,600;
    1,500.504 → 1,501);
  - paid by the worker in cash: **50銭未満切り捨て, 50銭以上切り上げ** (1,600.50 → 1,601), 通貨の単位
    及び貨幣の発行等に関する法律 3条;
  - an agreement between employer and worker, or a settled custom, overrides both (e.g. always
    rounding down): `Payment.AGREED_ROUND_DOWN`.
* The employer's share is the premium on the 申告書 less what the workers bore; it is not rounded
  per payment here (it is settled in the 年度更新 on the 賃金総額)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from services.jimukumiai.rules.money import THOUSAND
from services.jimukumiai.rules.rates import KoyoKubun, fiscal_year_start, koyo_rate

HALF = Decimal("0.5")


class Payment(StrEnum):
    """How the worker bears the share."""

    DEDUCTION = "deduction"  # 賃金から源泉控除: 50銭以下切り捨て / 50銭超切り上げ
    CASH = "cash"  # 現金で支払う: 50銭未満切り捨て / 50銭以上切り上げ
    AGREED_ROUND_DOWN = "agreed_round_down"  # 特約・慣習: 円未満切り捨て


@dataclass(frozen=True)
class WorkerShare:
    fiscal_year: int
    kubun: KoyoKubun
    wage: int
    rate: Decimal  # 労働者負担 per 1,000
    exact: Decimal  # wage × rate / 1000, before rounding
    payment: Payment
    amount: int  # 円, rounded by the rule of `payment`


def round_share(exact: Decimal, payment: Payment) -> int:
    """The 50銭 rules on a non-negative amount with a fraction below 1 円."""
    if exact < 0:
        raise ValueError("a worker share is never negative")
    yen = exact.to_integral_value(rounding=ROUND_FLOOR)
    fraction = exact - yen
    if payment is Payment.DEDUCTION:
        up = fraction > HALF
    elif payment is Payment.CASH:
        up = fraction >= HALF
    else:
        up = False
    return int(yen) + (1 if up else 0)


def worker_share(wage: int, fiscal_year: int, kubun: KoyoKubun, payment: Payment = Payment.DEDUCTION) -> WorkerShare:
    """The worker's 雇用保険料 on `wage` (円, one payment) at the rate of `fiscal_year` (raises
    rates.RateNotFound for a year without a table)."""
    if wage < 0:
        raise ValueError("a wage is never negative")
    rate = koyo_rate(kubun, fiscal_year_start(fiscal_year)).worker
    exact = Decimal(wage) * rate / THOUSAND
    return WorkerShare(fiscal_year, kubun, wage, rate, exact, payment, round_share(exact, payment))
