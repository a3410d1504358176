"""被扶養者 income tests (DOMAIN-SHAHO.md §7.2, §7.3 [確認] D1–D5).

年間収入の見込み (all income) must be below the limit for the dependant's age, and, living together,
below half of the 被保険者's income (living apart: below the 仕送り):

* general: < 1,300,000;
* 60 or over, or disabled at the 障害厚生年金 level: < 1,800,000;
* aged 19 to under 23 on 12/31 of the year (not the spouse), 認定日 on or after 2025-10-01:
  < 1,500,000 (age counted by 民法: reached on the day before the birthday; a disabled person keeps
  1,800,000).
From 2026-04-01 a dependant with 給与収入 only is judged on the contract-based annual estimate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.shakai_hoken.rules.age import age_on

STUDENT_BAND_FROM = date(2025, 10, 1)
CONTRACT_BASIS_FROM = date(2026, 4, 1)


@dataclass(frozen=True)
class DependantDecision:
    ok: bool
    limit: int
    reason: str


def income_limit(birth_date: date, recognised_on: date, *, spouse: bool, disabled: bool = False) -> int:
    if disabled or age_on(birth_date, recognised_on) >= 60:
        return 1_800_000
    if (not spouse and recognised_on >= STUDENT_BAND_FROM
            and 19 <= age_on(birth_date, date(recognised_on.year, 12, 31)) < 23):
        return 1_500_000
    return 1_300_000


def judge(*, birth_date: date, recognised_on: date, annual_income: int, insured_income: int,
          living_together: bool, spouse: bool, disabled: bool = False,
          remittance: int | None = None) -> DependantDecision:
    """被扶養者 認定 (W16). `annual_income` is the 見込み; for 給与収入 only from 2026-04-01 the caller
    passes the contract-based estimate (§7.3)."""
    limit = income_limit(birth_date, recognised_on, spouse=spouse, disabled=disabled)
    if annual_income >= limit:
        return DependantDecision(False, limit, f"年間収入{annual_income}円 ≥ {limit}円")
    if living_together:
        if annual_income * 2 >= insured_income:
            return DependantDecision(False, limit, "同居: 被保険者の年収の2分の1以上")
    elif remittance is None or annual_income >= remittance:
        return DependantDecision(False, limit, "別居: 仕送り額以上の収入 (または仕送りなし)")
    return DependantDecision(True, limit, f"年間収入{annual_income}円 < {limit}円")
