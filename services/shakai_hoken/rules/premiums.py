"""Monthly premiums (DOMAIN-SHAHO.md §4).

* Premium months (§4.2 [確認] M2, M3): from the month containing the 資格取得日 to the month before the
  month containing the 資格喪失日; 同月得喪 owes one month.
* Rates by premium month (§4.2): R8 健保/介護 from 2026-03分, 支援金 from 2026-04分.
* 介護 (§4.5 [確認] C1): from the month containing the 40歳到達日 up to the month before the month
  containing the 65歳到達日.
* 厚年 (§4.5 [確認] M5, N6): none from the month containing the 70歳到達日; 健保 none from the month
  containing the 75th birthday.
* Health = 一般 + 介護 + 支援金 as one combined rate, halved, rounded once (§4.1 [確認] T2, K4; setting
  ``combined_health_rate``); health and pension rounded separately (§4.1 [確認] N3).
* Employee share rounding (§4.3 [確認] L12, M4): from pay ``deduct`` (≤ 0.50 dropped, > 0.50 up), in cash
  ``cash`` (< 0.50 dropped), or the employer bears the fraction; the full premium is kept with sen and
  the employer share is computed per office (納入告知額 truncated to the yen minus the deductions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from services.shakai_hoken.rules.age import birthday_in, reaching_date
from services.shakai_hoken.rules.months import Month
from services.shakai_hoken.rules.rates import HealthRates, kodomo_kyoshutsukin_rate, kounen_rate
from services.shakai_hoken.rules.settings import DEFAULT_SETTINGS, ShahoRuleSettings


class Rounding(StrEnum):
    DEDUCT = "deduct"  # 給与から控除: 50銭以下切捨て, 50銭超切上げ
    CASH = "cash"  # 現金で支払: 50銭未満切捨て, 50銭以上切上げ
    EMPLOYER_BEARS_FRACTION = "employer_bears_fraction"  # 特約: 端数は事業主負担 (切捨て)


_HALF = Decimal("0.5")


def round_employee(x: Decimal, mode: Rounding) -> int:
    """The employee's share in whole yen (§4.3; 通貨単位法3条)."""
    whole = x.to_integral_value(rounding=ROUND_FLOOR)
    frac = x - whole
    if mode is Rounding.DEDUCT:
        up = frac > _HALF
    elif mode is Rounding.CASH:
        up = frac >= _HALF
    else:
        up = False
    return int(whole) + (1 if up else 0)


def pct(amount: int, rate_percent: Decimal) -> Decimal:
    return Decimal(amount) * rate_percent / Decimal(100)


def premium_months(acquired: date, lost: date | None, through: Month | None = None) -> list[Month]:
    """Premium months from 取得日 `acquired` to the month before the month of 喪失日 `lost` (§4.2);
    同月得喪 (lost in the acquisition month) owes that one month. Open-ended up to `through`."""
    first = Month.of(acquired)
    if lost is not None:
        last = Month.of(lost).plus(-1)
        if last < first:
            return [first]
    elif through is not None:
        last = through
    else:
        raise ValueError("an open enrolment needs `through`")
    out, m = [], first
    while m <= last:
        out.append(m)
        m = m.plus(1)
    return out


def kaigo_applies(birth_date: date, month: Month) -> bool:
    """介護保険第2号 in premium month `month` (§4.5): 40歳到達月 ≤ month < 65歳到達月."""
    return Month.of(reaching_date(birth_date, 40)) <= month < Month.of(reaching_date(birth_date, 65))


def kounen_applies(birth_date: date, month: Month) -> bool:
    """厚年 premium owed in `month`: before the month containing the 70歳到達日 (§4.5)."""
    return month < Month.of(reaching_date(birth_date, 70))


def kenpo_applies(birth_date: date, month: Month) -> bool:
    """健保 premium owed in `month`: before the month containing the 75th birthday (§4.5)."""
    return month < Month.of(birthday_in(birth_date, birth_date.year + 75))


@dataclass(frozen=True)
class PremiumBreakdown:
    month: Month
    health_rate: Decimal  # combined per cent applied (一般 + 介護 + 支援金)
    kaigo: bool
    health_total: Decimal  # full premium with sen
    health_employee: int
    pension_total: Decimal
    pension_employee: int
    kyoshutsukin: Decimal  # employer-only 子ども・子育て拠出金
    exempt: bool

    @property
    def employee_total(self) -> int:
        return self.health_employee + self.pension_employee


def _health(base: int, r: HealthRates, kaigo: bool, mode: Rounding,
            settings: ShahoRuleSettings) -> tuple[Decimal, Decimal, int]:
    parts = [(r.general, r.general_employee), (r.shienkin, r.shienkin_employee)]
    if kaigo:
        parts.insert(1, (r.kaigo, r.kaigo_employee))
    rate = sum((p[0] for p in parts), Decimal(0))
    total = pct(base, rate)
    if settings.combined_health_rate:
        employee = round_employee(pct(base, sum((p[1] for p in parts), Decimal(0))), mode)
    else:
        employee = sum(round_employee(pct(base, p[1]), mode) for p in parts if p[0])
    return rate, total, employee


def monthly_premium(*, month: Month, kenpo_standard: int | None, kounen_standard: int | None,
                    rates: HealthRates, birth_date: date, mode: Rounding = Rounding.DEDUCT,
                    exempt: bool = False,
                    settings: ShahoRuleSettings = DEFAULT_SETTINGS) -> PremiumBreakdown:
    """One person's premium for one premium month (W2, W3, W4). `kenpo_standard` / `kounen_standard`
    are None when the person is not in that scheme; age cut-offs are applied here as well.
    `exempt` (産休・育休 month) zeroes both halves (§12)."""
    kaigo = kaigo_applies(birth_date, month)
    h_rate, h_total, h_emp = Decimal(0), Decimal(0), 0
    if kenpo_standard is not None and kenpo_applies(birth_date, month) and not exempt:
        h_rate, h_total, h_emp = _health(kenpo_standard, rates, kaigo, mode, settings)
    p_total, p_emp, kyo = Decimal(0), 0, Decimal(0)
    if kounen_standard is not None and kounen_applies(birth_date, month) and not exempt:
        p_total = pct(kounen_standard, kounen_rate(month).rate)
        p_emp = round_employee(p_total / 2, mode)
        kyo = pct(kounen_standard, kodomo_kyoshutsukin_rate(month))
    return PremiumBreakdown(month, h_rate, kaigo, h_total, h_emp, p_total, p_emp, kyo, exempt)


@dataclass(frozen=True)
class OfficeTotals:
    """納入告知額 and the employer share for one office and month (§4.3 [確認, secondary] M4)."""

    health_total: int
    pension_total: int
    health_employee: int
    pension_employee: int
    kyoshutsukin: int

    @property
    def health_employer(self) -> int:
        return self.health_total - self.health_employee

    @property
    def pension_employer(self) -> int:
        return self.pension_total - self.pension_employee


def office_totals(items: Iterable[PremiumBreakdown]) -> OfficeTotals:
    """Sum the full premiums with sen, truncate each total to the yen; employer = total − deductions."""
    items = list(items)

    def trunc(x: Decimal) -> int:
        return int(x.to_integral_value(rounding=ROUND_FLOOR))

    return OfficeTotals(
        trunc(sum((i.health_total for i in items), Decimal(0))),
        trunc(sum((i.pension_total for i in items), Decimal(0))),
        sum(i.health_employee for i in items),
        sum(i.pension_employee for i in items),
        trunc(sum((i.kyoshutsukin for i in items), Decimal(0))),
    )


def deduction_month(premium_month: Month, same_month: bool = False) -> Month:
    """The pay month that deducts a premium month's share: the next month under 翌月徴収 (健保法167条,
    厚年法84条 [確認]), the same month under the office's 当月徴収 setting ([要確認] §4.4)."""
    return premium_month if same_month else premium_month.plus(1)
