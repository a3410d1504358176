"""The 年度更新 / 延納 calculator: one employer's figures from the same rules the run uses, with
nothing read or stored. Any authenticated caller of a tenant (staff, a partner system) may use it:
it holds no tenant data, so it needs no menu."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Query

from services.jimukumiai.calculator_schemas import (
    IncreaseEstimateOut,
    IncreaseEstimateRequest,
    InstallmentRequest,
    KoyoRateOut,
    PlanOut,
    RatesOut,
    RenewalOut,
    RenewalRequest,
    RousaiRateOut,
    SpecialPremiumOut,
    SpecialPremiumRequest,
    WorkerShareOut,
    WorkerShareRequest,
)
from services.jimukumiai.rules import ennou, nendo_koshin, tokubetsu_kanyu, worker_share
from services.jimukumiai.rules.rates import (
    KoyoKubun,
    RateNotFound,
    daily_amount_levels,
    fiscal_year_start,
    general_contribution_rate,
    koyo_rate,
    rousai_codes,
    rousai_type,
)
from services.jimukumiai.settings import get_jimukumiai_settings
from shared.auth_deps import TenantPrincipal
from shared.errors import ProblemError, problem_responses
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("jimukumiai") + "/calculator", tags=["jimukumiai calculator"])
PROBLEMS = problem_responses(401, 403, 422)


@contextmanager
def rule_errors() -> Iterator[None]:
    """A rule refusing its input (no rate in force, a business that cannot be renewed as given)
    is the caller's 422, never a 500."""
    try:
        yield
    except RateNotFound as exc:
        raise ProblemError(422, "rate-not-found", "指定された年度・業種の料率が登録されていません", str(exc)) from exc
    except ValueError as exc:
        raise ProblemError(422, "renewal-input", "年度更新の計算条件に誤りがあります", str(exc)) from exc


def _shift(value: bool | None) -> bool:
    return get_jimukumiai_settings().shift_fixed_deadlines if value is None else value


@router.post("/renewal", response_model=RenewalOut, responses=PROBLEMS)
def renewal(body: RenewalRequest, p: TenantPrincipal) -> RenewalOut:
    """年度更新 of one employer: 確定 of the past year, 一般拠出金, 概算 of this year, 不足額 / 充当 /
    還付, and the 延納 plan with due dates."""
    with rule_errors():
        result = nendo_koshin.renew(body.rule(_shift(None)))
    return RenewalOut.model_validate(result)


@router.post("/installments", response_model=PlanOut, responses=PROBLEMS)
def installments(body: InstallmentRequest, p: TenantPrincipal) -> PlanOut:
    """延納: a 概算 split over its periods, with 充当, 不足額 and 一般拠出金 on the first payment."""
    with rule_errors():
        plan = ennou.plan(body.fiscal_year, body.estimate, both_insurances=body.both_insurances,
                          entrusted=body.entrusted, shortage=body.shortage,
                          general_contribution=body.general_contribution, appropriated=body.appropriated,
                          requested=body.installments_requested, established_on=body.established_on,
                          account_transfer=body.account_transfer, shift_fixed_dates=_shift(body.shift_fixed_dates))
    return PlanOut.model_validate(plan)


@router.post("/special-enrolment", response_model=SpecialPremiumOut, responses=PROBLEMS)
def special_enrolment(body: SpecialPremiumRequest, p: TenantPrincipal) -> SpecialPremiumOut:
    """第1種特別加入: 保険料算定基礎額 (日額 × 365, or by months) and premium for one year."""
    with rule_errors():
        rate = rousai_type(body.rousai_code, fiscal_year_start(body.fiscal_year)).rate
        rules = [s.rule() for s in body.special_enrolments]
        return SpecialPremiumOut(
            fiscal_year=body.fiscal_year, rousai_rate=rate,
            months=[tokubetsu_kanyu.months_covered(e, body.fiscal_year) for e in rules],
            member_bases=[tokubetsu_kanyu.member_base(e, body.fiscal_year) for e in rules],
            total_base=tokubetsu_kanyu.total_base(rules, body.fiscal_year),
            premium=tokubetsu_kanyu.premium(rules, body.fiscal_year, rate))


@router.post("/increase-estimate", response_model=IncreaseEstimateOut, responses=PROBLEMS)
def increase_estimate(body: IncreaseEstimateRequest, p: TenantPrincipal) -> IncreaseEstimateOut:
    """増加概算保険料: due when a base rises above 200 % and the premium by 130,000 円 or more."""
    with rule_errors():
        if body.rousai_code is None and body.koyo_kubun is None:
            raise ValueError("労災 or 雇用 (or both) must apply")
        r = nendo_koshin.increase_estimate(
            body.fiscal_year, body.rousai_code, body.koyo_kubun, used_rousai_base=body.used_rousai_base,
            used_koyo_base=body.used_koyo_base, filed_estimate=body.filed_estimate,
            new_rousai_wages=body.new_rousai_wages, new_koyo_wages=body.new_koyo_wages, expected_on=body.expected_on)
    return IncreaseEstimateOut.model_validate(r)


@router.post("/worker-share", response_model=WorkerShareOut, responses=PROBLEMS)
def worker_share_of(body: WorkerShareRequest, p: TenantPrincipal) -> WorkerShareOut:
    """被保険者負担額 (the worker's 雇用保険料) on one wage payment, for payroll: wage × the 労働者負担
    rate of the fiscal year and 事業区分, the fraction below 1 円 rounded by the 50銭 rule of the
    way it is paid — deducted from wages: 50銭以下切り捨て, 50銭を超える端数は切り上げ; paid in cash:
    50銭未満切り捨て, 50銭以上切り上げ (通貨の単位及び貨幣の発行等に関する法律3条); an agreement or
    custom of rounding down overrides both (DOMAIN.md A5). A year without rates is 422
    `rate-not-found`."""
    with rule_errors():
        share = worker_share.worker_share(body.wage, body.fiscal_year, body.koyo_kubun, body.payment)
    return WorkerShareOut.model_validate(share)


@router.get("/rates", response_model=RatesOut, responses=PROBLEMS)
def rates(p: TenantPrincipal, fiscal_year: Annotated[int, Query(ge=2000, le=2100)]) -> RatesOut:
    """The rates in force on 4/1 of a fiscal year (雇用 by 事業区分, 労災 by 事業の種類, 一般拠出金,
    特別加入 給付基礎日額)."""
    on = fiscal_year_start(fiscal_year)
    with rule_errors():
        koyo = [KoyoRateOut(kubun=k, worker=(r := koyo_rate(k, on)).worker, employer=r.employer, total=r.total)
                for k in KoyoKubun]
        rousai = [RousaiRateOut(code=t.code, name=t.name, rate=t.rate) for t in rousai_codes(on).values()]
        return RatesOut(fiscal_year=fiscal_year, koyo=koyo, rousai=rousai,
                        general_contribution_rate=general_contribution_rate(on),
                        daily_amount_levels=list(daily_amount_levels(on)))
