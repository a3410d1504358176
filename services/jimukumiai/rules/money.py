"""Integer yen and the roundings of 徴収法 (DOMAIN.md B7): Decimal arithmetic, never float.

* 賃金総額 and 特別加入保険料算定基礎額: 千円未満切捨て (徴収則).
* each premium: 円未満切捨て (国等の債権債務等の金額の端数計算に関する法律 2条).
* installments: fractions to the first installment (同法 3条) — see ennou.split."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

THOUSAND = Decimal(1000)


def floor_yen(amount: Decimal) -> int:
    """円未満切捨て. Amounts here are never negative; floor is written out anyway."""
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


def ceil_yen(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def floor_thousands(yen: int | Decimal) -> int:
    """千円未満切捨て: 12,345,678 → 12,345,000."""
    if yen < 0:
        raise ValueError("a wage total is never negative")
    return int(Decimal(yen) // THOUSAND) * 1000


def per_mille(base: int, rate: Decimal) -> int:
    """base × rate/1000, 円未満切捨て (rates are tabled per 1,000)."""
    return floor_yen(Decimal(base) * rate / THOUSAND)
