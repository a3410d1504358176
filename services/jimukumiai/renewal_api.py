"""Routes of the 年度更新 run, the 徴収及び納付簿 (ledger), arrears and the 報奨金 estimate."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from services.jimukumiai import increase, renewal, renewal_export, service
from services.jimukumiai.api import CanRead, CanWrite, Rt, Today, scoped_member
from services.jimukumiai.books import Tally
from services.jimukumiai.calculator_schemas import (
    IncreaseBookingOut,
    IncreaseEstimateOut,
    RenewalOut,
    RenewalResultPage,
    RenewalResultRow,
)
from services.jimukumiai.models import Member, Renewal, RenewalRun
from services.jimukumiai.schemas import (
    REF_ID,
    ArrearsOut,
    ArrearsRow,
    DueNoticeIn,
    DueNoticeOut,
    IncreaseBookingIn,
    LedgerEntryIn,
    LedgerEntryOut,
    LedgerOut,
    OutstandingOut,
    RenewalRunIn,
    RenewalRunOut,
    ReversalIn,
    RewardEstimateOut,
)
from services.jimukumiai.settings import get_jimukumiai_settings
from shared.auth_deps import TenantPrincipal, actor_of
from shared.errors import ProblemError, not_found, problem_responses
from shared.permissions import Access
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("jimukumiai"), tags=["jimukumiai renewal and ledger"])
PROBLEMS = problem_responses(401, 403, 404, 409, 422)
Year = Annotated[int, Path(ge=2000, le=2100)]


def _all_jigyosho(access: Access) -> None:
    if access.jigyosho_ids is not None:
        raise ProblemError(403, "forbidden", "この操作を行う権限がありません",
                           "全事業所の権限が必要です (年度更新は事務組合の全委託事業主が対象です)")


@router.post("/renewal-runs", status_code=status.HTTP_201_CREATED, response_model=RenewalRunOut,
             responses=PROBLEMS)
def start_run(body: RenewalRunIn, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
              clock: Today) -> RenewalRunOut:
    """Run the 年度更新 of every member entrusted in the year: 確定 of the past year at its rates,
    一般拠出金, 概算 at the new rates, 不足額 / 充当 / 還付, 延納 plan; results, ledger entries and one
    roumu.jimukumiai.renewal.computed per member. Members renewed before are left alone (run again
    to finish an interrupted run); members without wages are listed in `skipped`. One run at a time
    per year: while one runs, another answers 409 `renewal-run-in-progress` with its `run_id`."""
    _all_jigyosho(access)
    conf = get_jimukumiai_settings()
    row = renewal.run(rt.transaction, access.tenant_id, body.fiscal_year, actor_of(p, request),
                      service.today(clock), conf.shift_fixed_deadlines,
                      stale_after=timedelta(seconds=conf.renewal_run_stale_seconds))
    return RenewalRunOut.model_validate(row)


@router.post("/client-renewal-runs", status_code=status.HTTP_201_CREATED, response_model=RenewalRunOut,
             responses=PROBLEMS)
def start_client_run(body: RenewalRunIn, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                     clock: Today) -> RenewalRunOut:
    """The 社労士 office's 年度更新 run over all its client employers (kind client, POST /clients)
    served in the year — the association's run (POST /renewal-runs) never includes them, and this
    one never includes a 委託事業主. The same computation, stored results, ledger entries and
    roumu.jimukumiai.renewal.computed events (`member_kind` client), with a client's rules: 延納
    only when the 概算 is 400,000 円 or more (200,000 円 with one insurance; 徴収則27条1項), due
    7/10, 10/31 and 1/31, each moved to the next 行政機関 business day (7/10 by law; 10/31 and 1/31
    by practice, the setting ROUMU_JIMUKUMIAI_SHIFT_FIXED_DEADLINES). Resumable and idempotent like
    the association's run; one at a time per year (409 `renewal-run-in-progress`), independent of
    the association's run of the same year."""
    _all_jigyosho(access)
    conf = get_jimukumiai_settings()
    row = renewal.run(rt.transaction, access.tenant_id, body.fiscal_year, actor_of(p, request),
                      service.today(clock), conf.shift_fixed_deadlines,
                      stale_after=timedelta(seconds=conf.renewal_run_stale_seconds), kind="client")
    return RenewalRunOut.model_validate(row)


@router.get("/renewals/{fiscal_year}", response_model=RenewalResultPage, responses=PROBLEMS)
def list_results(fiscal_year: Year, access: CanRead, rt: Rt,
                 kind: Annotated[Literal["entrusted", "client"], Query(
                     description="entrusted: the 事務組合's run; client: the office's run")] = "client",
                 jigyosho_id: Annotated[str | None, Query(pattern=REF_ID, description="one 事業所 only")] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 50,
                 offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> RenewalResultPage:
    """The year's stored 年度更新 results as JSON, a page at a time (by 労働保険番号): per employer
    the whole result (the calculator's shape: 確定, 概算, settlement, 延納 plan with due dates) — the
    data of its 申告書 控え; the caller's 事業所 only."""
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    with rt.db.sessions() as session:
        rows, total = renewal_export.page(session, access.tenant_id, fiscal_year, kind, access.jigyosho_ids,
                                          jigyosho_id, limit, offset)
    items = [RenewalResultRow(member_id=mid, labour_insurance_number=lin, name=name, kind=k, jigyosho_id=js,
                              result=RenewalOut.model_validate(result)) for mid, lin, name, k, js, result in rows]
    return RenewalResultPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/renewals/{fiscal_year}/results.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 with BOM, CRLF"},
                       **problem_responses(401, 403, 404, 422)})
def export_results(fiscal_year: Year, access: CanRead, rt: Rt,
                   kind: Annotated[Literal["entrusted", "client"], Query(
                       description="entrusted: the 事務組合's run; client: the office's run")] = "client",
                   jigyosho_id: Annotated[str | None, Query(pattern=REF_ID, description="one 事業所 only")] = None,
                   member_id: Annotated[str | None, Query(pattern=REF_ID, description=(
                       "one employer only (its 申告書 控え data); its kind is used"))] = None,
                   ) -> StreamingResponse:
    """The year's stored 年度更新 results as CSV, one line per employer with its 申告書 figures (確定
    and 概算 bases, rates and premiums, 一般拠出金, 不足額 / 充当 / 還付, 延納 and each installment's
    amount and due date); the caller's 事業所 only. With `member_id`, that employer's line (404 for
    one outside the caller's tenant or 事業所)."""
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    whose: str = kind
    if member_id is not None:
        with rt.db.sessions() as session:
            whose = scoped_member(session, access, member_id).kind
    chunks = renewal_export.results(rt.db, access.tenant_id, fiscal_year, whose, access.jigyosho_ids, jigyosho_id,
                                    Tally(), member_id)
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="renewal-results-{whose}-{fiscal_year}.csv"'})


@router.get("/renewal-runs/{run_id}", response_model=RenewalRunOut, responses=PROBLEMS)
def get_run(run_id: str, access: CanRead, rt: Rt) -> RenewalRunOut:
    with rt.db.sessions() as session:
        row = session.get(RenewalRun, run_id)
        if row is None or row.tenant_id != access.tenant_id:
            raise not_found()
        return RenewalRunOut.model_validate(row)


@router.get("/members/{member_id}/renewals/{fiscal_year}", response_model=RenewalOut, responses=PROBLEMS)
def get_renewal(member_id: str, fiscal_year: Year, access: CanRead, rt: Rt) -> RenewalOut:
    """The member's 年度更新 of a year, as the run computed it (the calculator's shape)."""
    with rt.db.sessions() as session:
        member = scoped_member(session, access, member_id)
        row = session.execute(select(Renewal).where(Renewal.tenant_id == access.tenant_id,
                                                    Renewal.member_id == member.id,
                                                    Renewal.fiscal_year == fiscal_year)).scalar_one_or_none()
        if row is None:
            raise not_found()
        return RenewalOut.model_validate(row.result)


@router.get("/members/{member_id}/ledger", response_model=LedgerOut, responses=PROBLEMS)
def get_ledger(member_id: str, access: CanRead, rt: Rt,
               fiscal_year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> LedgerOut:
    """The member's page of the 労働保険料等徴収及び納付簿, and what is still owed."""
    with rt.db.sessions() as session:
        member = scoped_member(session, access, member_id)
        rows = renewal.entries(session, access.tenant_id, member.id, fiscal_year)
        left = renewal.outstanding(session, access.tenant_id, [member.id], None).get(member.id, [])
        return LedgerOut(entries=[LedgerEntryOut.model_validate(r) for r in rows],
                         outstanding=[OutstandingOut.model_validate(o) for o in left
                                      if fiscal_year is None or o.fiscal_year == fiscal_year])


@router.post("/members/{member_id}/ledger", status_code=status.HTTP_201_CREATED, response_model=LedgerEntryOut,
             responses=PROBLEMS)
def record(member_id: str, body: LedgerEntryIn, p: TenantPrincipal, access: CanWrite, request: Request,
           rt: Rt) -> LedgerEntryOut:
    """Enter money: collected from the member, paid to the state, a refund received or passed on."""
    with rt.transaction() as session:
        member = scoped_member(session, access, member_id)
        entry = renewal.record_money(session, member, str(body.kind), body.fiscal_year, body.period, body.amount,
                                     body.occurred_on, body.note, actor_of(p, request))
        return LedgerEntryOut.model_validate(entry)


@router.post("/members/{member_id}/increase-estimates", response_model=IncreaseBookingOut, responses=PROBLEMS)
def book_increase(member_id: str, body: IncreaseBookingIn, p: TenantPrincipal, access: CanWrite, request: Request,
                  rt: Rt, clock: Today) -> IncreaseBookingOut:
    """増加概算保険料 for a member whose wage estimate rose after its 概算 was filed: judged against the
    bases and amount of the year's 年度更新 (more than 200 % and 130,000 円 or more); when due, an owed
    ledger entry (due 30 days after the day after the increase was expected, on a business day) and
    roumu.jimukumiai.increase_estimate.booked. Not due: the judgement, nothing written."""
    with rt.transaction() as session:
        member = scoped_member(session, access, member_id)
        booked = increase.book(session, member, body.fiscal_year, body.new_rousai_wages, body.new_koyo_wages,
                               body.expected_on, actor_of(p, request), service.today(clock))
        return IncreaseBookingOut(computed=IncreaseEstimateOut.model_validate(booked.computed),
                                  ledger_entry_id=booked.entry.id if booked.entry else None)


@router.post("/ledger/{entry_id}/reverse", status_code=status.HTTP_201_CREATED, response_model=LedgerEntryOut,
             responses=PROBLEMS)
def reverse(entry_id: str, body: ReversalIn, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
            clock: Today) -> LedgerEntryOut:
    """Correct an entry: a reversal (same kind, opposite amount) is added and the original stays.
    Enter the right amount afterwards as a new entry."""
    with rt.transaction() as session:
        def allowed(member_id: str) -> bool:
            m = session.get(Member, member_id)
            return m is not None and access.allows_jigyosho(m.jigyosho_id)

        entry = renewal.reverse(session, access.tenant_id, entry_id, body.occurred_on or service.today(clock),
                                body.note, actor_of(p, request), allowed)
        return LedgerEntryOut.model_validate(entry)


@router.get("/arrears", response_model=ArrearsOut, responses=PROBLEMS)
def arrears(access: CanRead, rt: Rt, clock: Today, as_of: Annotated[date | None, Query()] = None) -> ArrearsOut:
    """The dunning list: members with amounts due by `as_of` (default today) not collected."""
    day = as_of or service.today(clock)
    with rt.db.sessions() as session:
        left = renewal.outstanding(session, access.tenant_id, None, day)
        members = {m.id: m for m in session.execute(select(Member).where(
            Member.tenant_id == access.tenant_id, Member.kind == "entrusted",
            Member.id.in_(sorted(left)))).scalars()}
    rows = [ArrearsRow(member_id=mid, name=members[mid].name,
                       labour_insurance_number=members[mid].labour_insurance_number,
                       amount=sum(o.amount for o in items), oldest_due_on=min(o.due_on for o in items),
                       items=[OutstandingOut.model_validate(o) for o in items])
            for mid, items in left.items() if mid in members and access.allows_jigyosho(members[mid].jigyosho_id)]
    rows.sort(key=lambda r: (r.oldest_due_on, r.labour_insurance_number))
    return ArrearsOut(as_of=day, total=sum(r.amount for r in rows), items=rows)


@router.post("/installment-notices", response_model=DueNoticeOut, responses=PROBLEMS)
def installment_notices(body: DueNoticeIn, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                        clock: Today) -> DueNoticeOut:
    """Publish roumu.jimukumiai.installment.due for amounts falling due within `horizon_days` of
    `as_of` and not collected, once per entry (a scheduler calls this daily)."""
    _all_jigyosho(access)
    with rt.transaction() as session:
        n = renewal.notify_due(session, access.tenant_id, body.as_of or service.today(clock), body.horizon_days,
                               actor_of(p, request))
    return DueNoticeOut(published=n)


@router.get("/reward-estimate", response_model=RewardEstimateOut, responses=PROBLEMS)
def reward_estimate(access: CanRead, rt: Rt, fiscal_year: Annotated[int, Query(ge=2000, le=2100)]
                    ) -> RewardEstimateOut:
    """報奨金 estimate for the association (judged on 7/10 of `fiscal_year` on the year before's
    確定 of members with ≤ 15 workers). The 2 % term after the 2024 restructuring is [要確認]."""
    _all_jigyosho(access)
    with rt.db.sessions() as session:
        try:
            e = renewal.reward_estimate(session, access.tenant_id, fiscal_year,
                                        get_jimukumiai_settings().shift_fixed_deadlines)
        except LookupError as exc:
            raise ProblemError(422, "rate-not-found", "指定された年度の報奨金の基準が登録されていません",
                               str(exc)) from exc
    return RewardEstimateOut(**{**e.__dict__, "collection_rate": str(e.collection_rate)})
