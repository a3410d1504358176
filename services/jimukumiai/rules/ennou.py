"""延納: paying the 概算保険料 in installments (DOMAIN.md B8 and appendix §6–7).

* Allowed (徴収則27条1項) when the 概算 alone is ≥ 400,000 円 (≥ 200,000 円 when only one of 労災 /
  雇用 applies), or **always** when the work is entrusted to a 事務組合. The previous year's
  不足額 does not count towards the threshold. 有期事業 are out of scope here.
* Periods of a continuing business: 4/1–7/31, 8/1–11/30, 12/1–3/31. A business established
  mid-year: 4/1–5/31 → 3 periods (the first from 成立), 6/1–9/30 → 2 (成立 to 11/30, then
  12/1–3/31), 10/1 or later → none (pay in full). A first period of 2 months or less merges with
  the next.
* Each installment = 概算 ÷ number of periods (徴収則27条2項); fractions go to the **first**
  (端数計算法3条): periods 2..n get floor(total / n), period 1 the rest.
* Due dates: 1st 7/10 (or 50 days after 成立); then 10/31 and 1/31, or 11/14 and 2/14 for a
  事務組合 member; with 口座振替 9/6, 11/14, 2/14.
* Moving to the next 行政機関 business day (shared.jp_calendar.next_business_day): 7/10 and the
  50-day limit end statutory periods (徴収法15条) and move **by law**; the fixed dates (10/31,
  1/31, 11/14, 2/14, 9/6) move **by practice** — `shift_fixed_dates` (default on, the setting
  ROUMU_JIMUKUMIAI_SHIFT_FIXED_DEADLINES) turns that off.
* The 一般拠出金 is never split: it goes with the first payment, as does last year's 不足額.
* A 充当 (excess of last year's 確定 applied to this 概算) reduces the first installment first,
  then the next ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.jp_calendar import next_business_day

THRESHOLD_BOTH = 400_000
THRESHOLD_ONE = 200_000
NEW_BUSINESS_DAYS = 50


@dataclass(frozen=True)
class Period:
    number: int
    covers_from: date
    covers_to: date
    raw_due_on: date  # the date of the rule
    due_on: date  # moved to a business day where the rule says so
    shifted_by_law: bool


@dataclass(frozen=True)
class Installment:
    number: int
    covers_from: date
    covers_to: date
    premium: int  # this period's share of the 概算
    appropriated: int  # 充当 of last year's excess to this share
    shortage: int  # last year's 不足額 (first installment only)
    general_contribution: int  # 一般拠出金 still to pay (first installment only)
    amount_due: int
    raw_due_on: date
    due_on: date


@dataclass(frozen=True)
class InstallmentPlan:
    allowed: bool  # 延納 allowed for this business and amount
    installments: tuple[Installment, ...]

    @property
    def total_due(self) -> int:
        return sum(i.amount_due for i in self.installments)


def allowed(estimate: int, *, both_insurances: bool, entrusted: bool) -> bool:
    if entrusted:
        return True
    return estimate >= (THRESHOLD_BOTH if both_insurances else THRESHOLD_ONE)


def split(total: int, n: int) -> list[int]:
    """1,000,001 in 3 → [333,335, 333,333, 333,333]."""
    if n < 1 or total < 0:
        raise ValueError("split needs n ≥ 1 and a non-negative total")
    rest = total // n
    return [total - rest * (n - 1)] + [rest] * (n - 1)


def _fixed(d: date, shift: bool) -> tuple[date, date, bool]:
    return d, (next_business_day(d) if shift else d), False


def _statutory(d: date) -> tuple[date, date, bool]:
    return d, next_business_day(d), True


def periods(fiscal_year: int, *, entrusted: bool, installments: bool = True, established_on: date | None = None,
            account_transfer: bool = False, shift_fixed_dates: bool = True) -> list[Period]:
    """The payment periods of one fiscal year's 概算, with due dates. `installments=False` (or a
    business not allowed 延納): one period, the whole year."""
    fy_start, fy_end = date(fiscal_year, 4, 1), date(fiscal_year + 1, 3, 31)
    if established_on is not None and not (fy_start <= established_on <= fy_end):
        if established_on > fy_end:
            raise ValueError("the business is established after this fiscal year")
        established_on = None  # established in an earlier year: a continuing business
    bounds = [(fy_start, date(fiscal_year, 7, 31)), (date(fiscal_year, 8, 1), date(fiscal_year, 11, 30)),
              (date(fiscal_year, 12, 1), fy_end)]
    second = date(fiscal_year, 11, 14) if entrusted or account_transfer else date(fiscal_year, 10, 31)
    third = date(fiscal_year + 1, 2, 14) if entrusted or account_transfer else date(fiscal_year + 1, 1, 31)
    if established_on is None:
        first = (_fixed(date(fiscal_year, 9, 6), shift_fixed_dates) if account_transfer
                 else _statutory(date(fiscal_year, 7, 10)))
    else:
        first = _statutory(established_on + timedelta(days=NEW_BUSINESS_DAYS))
        if established_on >= date(fiscal_year, 10, 1):
            bounds = [(established_on, fy_end)]
        elif established_on >= date(fiscal_year, 6, 1):
            bounds = [(established_on, date(fiscal_year, 11, 30)), bounds[2]]
        else:
            bounds = [(established_on, bounds[0][1]), bounds[1], bounds[2]]
    dues = [first, _fixed(second, shift_fixed_dates), _fixed(third, shift_fixed_dates)]
    if len(bounds) == 2:
        dues = [first, dues[2]]
    if not installments:
        bounds, dues = [(bounds[0][0], fy_end)], [first]
    return [Period(i + 1, b[0], b[1], d[0], d[1], d[2]) for i, (b, d) in enumerate(zip(bounds, dues, strict=False))]


def plan(fiscal_year: int, estimate: int, *, both_insurances: bool, entrusted: bool, shortage: int = 0,
         general_contribution: int = 0, appropriated: int = 0, requested: bool = True,
         established_on: date | None = None, account_transfer: bool = False,
         shift_fixed_dates: bool = True) -> InstallmentPlan:
    """What is paid when: the 概算 split over the periods (or whole), 充当 from the first
    installment on, the 不足額 and the 一般拠出金 with the first payment."""
    if min(estimate, shortage, general_contribution, appropriated) < 0:
        raise ValueError("amounts are never negative")
    if appropriated > estimate:
        raise ValueError("充当 to the 概算 cannot exceed it")
    ok = allowed(estimate, both_insurances=both_insurances, entrusted=entrusted)
    ps = periods(fiscal_year, entrusted=entrusted, installments=ok and requested, established_on=established_on,
                 account_transfer=account_transfer, shift_fixed_dates=shift_fixed_dates)
    shares = split(estimate, len(ps))
    left = appropriated
    out: list[Installment] = []
    for p, share in zip(ps, shares, strict=True):
        used = min(left, share)
        left -= used
        extra_shortage = shortage if p.number == 1 else 0
        extra_gc = general_contribution if p.number == 1 else 0
        out.append(Installment(p.number, p.covers_from, p.covers_to, share, used, extra_shortage, extra_gc,
                               share - used + extra_shortage + extra_gc, p.raw_due_on, p.due_on))
    return InstallmentPlan(ok, tuple(out))
