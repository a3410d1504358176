"""Routes of the shakai_hoken service: parse, authorize, call a use case.

Every route is scoped by tenant and by the caller's 事業所 grant under the `shakai_hoken` menu: an id
outside them answers 404, exactly like a missing one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from services.shakai_hoken import events, repository, service, teiji_run
from services.shakai_hoken.context import ShahoContext
from services.shakai_hoken.models import Enrolment, TeijiRun, messaging
from services.shakai_hoken.schemas import (
    MONTH,
    REF_ID,
    BonusIn,
    BonusList,
    BonusOut,
    EnrolmentCreate,
    EnrolmentOut,
    EnrolmentPage,
    GradeHistory,
    GradeIn,
    GradeOut,
    LossIn,
    OfficeIn,
    OfficeOut,
    PayIn,
    PayOut,
    PremiumOut,
    TeijiResultPage,
    TeijiRunIn,
    TeijiRunOut,
    ZuijiIn,
    ZuijiOut,
    month_of,
)
from shared.auth_deps import TenantPrincipal, actor_of, require_menu
from shared.errors import ProblemError, not_found, problem_responses
from shared.permissions import SHAKAI_HOKEN, Access
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("shakai_hoken"), tags=["shakai_hoken"])
Rt = Annotated[Runtime, Depends(runtime)]
CanRead = Annotated[Access, Depends(require_menu(SHAKAI_HOKEN, "read"))]
CanWrite = Annotated[Access, Depends(require_menu(SHAKAI_HOKEN, "write"))]
JigyoshoId = Annotated[str, Path(pattern=REF_ID)]
EnrolmentId = Annotated[str, Path(pattern=REF_ID)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]

PROBLEMS = problem_responses(401, 403, 404, 422)
WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 422)
RACED = ProblemError(409, "conflict", "他の操作と同時に更新されました", "もう一度操作してください")


T = TypeVar("T")


def unique_or_409(work: Callable[[], T], attempts: int = 1) -> T:
    """A unit of work a concurrent one beat to a unique row (an enrolment, a month's grade, the
    office's first write) or to the version column: run again up to `attempts` times (it then reads
    what committed and answers as the use case decides), else 409 — never a 500 or a half-write."""
    for _ in range(attempts):
        try:
            return work()
        except (IntegrityError, StaleDataError):
            continue
    raise RACED


def ctx_of(rt: Runtime) -> ShahoContext:
    ctx: ShahoContext = rt.extras["shakai_hoken"]
    return ctx


def _enrolment(session: Session, access: Access, enrolment_id: str) -> Enrolment:
    e = repository.enrolment(session, access.tenant_id, enrolment_id)
    if e is None or not access.allows_jigyosho(e.jigyosho_id):
        raise not_found()
    return e


# --- 事業所 ---------------------------------------------------------------------------------------

@router.put("/offices/{jigyosho_id}", response_model=OfficeOut, responses=WRITE_PROBLEMS)
def put_office(jigyosho_id: JigyoshoId, body: OfficeIn, p: TenantPrincipal, access: CanWrite, request: Request,
               rt: Rt, response: Response) -> OfficeOut:
    """The 事業所's 社会保険 data: 事業所整理記号, 事業所番号, insurer (協会けんぽ with its prefecture, or a
    健康保険組合 with its own dated rates), 特定適用事業所, 徴収 timing and rounding."""
    access.check_jigyosho(jigyosho_id)

    def work() -> tuple[OfficeOut, bool]:
        with rt.transaction() as session:
            o, created = service.put_office(session, ctx_of(rt), access, jigyosho_id, body, actor_of(p, request))
            return service.office_out(o), created

    out, created = unique_or_409(work, attempts=3)
    if created:
        response.status_code = status.HTTP_201_CREATED
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/offices/{jigyosho_id}", response_model=OfficeOut, responses=PROBLEMS)
def get_office(jigyosho_id: JigyoshoId, access: CanRead, rt: Rt) -> OfficeOut:
    access.check_jigyosho(jigyosho_id)
    with rt.db.sessions() as session:
        o = repository.office(session, access.tenant_id, jigyosho_id)
        if o is None:
            raise not_found()
        return service.office_out(o)


# --- enrolments ----------------------------------------------------------------------------------

@router.post("/enrolments", status_code=status.HTTP_201_CREATED, response_model=EnrolmentOut,
             responses=WRITE_PROBLEMS)
def create_enrolment(body: EnrolmentCreate, p: TenantPrincipal, access: CanWrite, request: Request,
                     rt: Rt, response: Response) -> EnrolmentOut:
    """資格取得: enrol a person registered in koyo_hoken (its `insured_person_id`) in 健康保険 and 厚生年金保険,
    with the 資格取得時決定 from `remuneration`. Answers the grades and the 資格取得届 deadline."""
    ctx = ctx_of(rt)

    def work() -> EnrolmentOut:
        with rt.transaction() as session:
            e = service.create_enrolment(session, ctx, access, body, actor_of(p, request))
            return service.enrolment_out(session, ctx, e)

    out = unique_or_409(work, attempts=2)  # the second run answers 409 「既に…取得しています」
    response.headers["Location"] = f"{router.prefix}/enrolments/{out.id}"
    return out


@router.get("/enrolments", response_model=EnrolmentPage, responses=PROBLEMS)
def list_enrolments(access: CanRead, rt: Rt, jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
                    limit: Limit = 50, offset: Offset = 0) -> EnrolmentPage:
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    ctx = ctx_of(rt)
    with rt.db.sessions() as session:
        rows, total = repository.enrolments(session, access.tenant_id, jigyosho_id, access.jigyosho_ids, limit,
                                            offset)
        return EnrolmentPage(items=[service.enrolment_out(session, ctx, e) for e in rows], total=total,
                             limit=limit, offset=offset)


@router.get("/enrolments/{shaho_enrolment_id}", response_model=EnrolmentOut, responses=PROBLEMS)
def get_enrolment(shaho_enrolment_id: EnrolmentId, access: CanRead, rt: Rt) -> EnrolmentOut:
    with rt.db.sessions() as session:
        return service.enrolment_out(session, ctx_of(rt), _enrolment(session, access, shaho_enrolment_id))


@router.post("/enrolments/{shaho_enrolment_id}/loss", response_model=EnrolmentOut, responses=WRITE_PROBLEMS)
def lose_enrolment(shaho_enrolment_id: EnrolmentId, body: LossIn, p: TenantPrincipal, access: CanWrite,
                   request: Request, rt: Rt) -> EnrolmentOut:
    """資格喪失 on leaving: 喪失日 = the day after `last_day`; answers the 資格喪失届 deadline."""
    ctx = ctx_of(rt)

    def work() -> EnrolmentOut:
        with rt.transaction() as session:
            e = service.lose(session, ctx, _enrolment(session, access, shaho_enrolment_id), body.last_day,
                             actor_of(p, request))
            return service.enrolment_out(session, ctx, e)

    return unique_or_409(work, attempts=2)


@router.get("/enrolments/{shaho_enrolment_id}/standard-remunerations", response_model=GradeHistory, responses=PROBLEMS)
def grade_history(shaho_enrolment_id: EnrolmentId, access: CanRead, rt: Rt) -> GradeHistory:
    """The 標準報酬月額 history of an enrolment, oldest first."""
    with rt.db.sessions() as session:
        e = _enrolment(session, access, shaho_enrolment_id)
        return GradeHistory(items=[service.grade_out(s) for s in repository.grades(session, e.id)])


@router.post("/enrolments/{shaho_enrolment_id}/standard-remunerations", status_code=status.HTTP_201_CREATED,
             response_model=GradeOut, responses=WRITE_PROBLEMS)
def add_grade(shaho_enrolment_id: EnrolmentId, body: GradeIn, p: TenantPrincipal, access: CanWrite, request: Request,
              rt: Rt) -> GradeOut:
    """A new 標準報酬月額 from a month (定時決定, 随時改定, 終了時改定, correction): both grades are looked
    up from `remuneration` in the tables in force that month."""
    ctx = ctx_of(rt)

    def work() -> GradeOut:
        with rt.transaction() as session:
            s = service.add_grade(session, ctx, _enrolment(session, access, shaho_enrolment_id), body,
                                  actor_of(p, request))
            return service.grade_out(s)

    return unique_or_409(work, attempts=2)


@router.get("/enrolments/{shaho_enrolment_id}/premiums/{month}", response_model=PremiumOut, responses=PROBLEMS)
def monthly_premium(shaho_enrolment_id: EnrolmentId, month: Annotated[str, Path(pattern=MONTH)], access: CanRead,
                    rt: Rt) -> PremiumOut:
    """The premium of one premium month (保険料月): health (一般 + 介護 + 支援金) and pension, full amounts
    with sen and the employee's shares rounded as the office deducts them."""
    with rt.db.sessions() as session:
        return service.premium(session, ctx_of(rt), _enrolment(session, access, shaho_enrolment_id), month_of(month))


@router.post("/enrolments/{shaho_enrolment_id}/zuiji-check", response_model=ZuijiOut, responses=WRITE_PROBLEMS)
def zuiji_check(shaho_enrolment_id: EnrolmentId, body: ZuijiIn, access: CanWrite, rt: Rt) -> ZuijiOut:
    """Is this pay change a 随時改定 (月額変更届) candidate? Nothing is stored; staff confirm the result by
    adding the new 標準報酬月額 (reason `zuiji`)."""
    with rt.db.sessions() as session:
        return service.zuiji_check(session, ctx_of(rt), _enrolment(session, access, shaho_enrolment_id), body)


@router.put("/enrolments/{shaho_enrolment_id}/pay-months/{month}", response_model=PayOut, responses=WRITE_PROBLEMS)
def put_pay(shaho_enrolment_id: EnrolmentId, month: Annotated[str, Path(pattern=MONTH)], body: PayIn,
            access: CanWrite, rt: Rt) -> PayOut:
    """報酬 paid in a payment month and its 支払基礎日数 (what 定時決定 reads), entered or replaced."""
    def work() -> PayOut:
        with rt.transaction() as session:
            return service.put_pay(session, ctx_of(rt), _enrolment(session, access, shaho_enrolment_id),
                                   month_of(month), body)

    return unique_or_409(work, attempts=2)


def _run_out(session: Session, access: Access, run: TeijiRun, written: int) -> TeijiRunOut:
    return TeijiRunOut(id=run.id, year=run.year, jigyosho_ids=run.jigyosho_ids, written=written,
                       finished_at=run.finished_at,
                       summary=service.teiji_summary(session, access.tenant_id, run, access.jigyosho_ids))


@router.post("/teiji-runs", status_code=status.HTTP_201_CREATED, response_model=TeijiRunOut,
             responses=WRITE_PROBLEMS)
def start_teiji_run(body: TeijiRunIn, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt) -> TeijiRunOut:
    """定時決定 of `year` for every enrolment of the 事業所 the caller may see (or `jigyosho_ids`): one
    result per person and year. Idempotent and resumable: running it again finishes what an
    interrupted run left and changes nothing already decided. Nothing is applied to the 標準報酬月額
    history here: staff confirm flagged persons first."""
    ids = body.jigyosho_ids
    if ids is not None:
        for jid in ids:
            access.check_jigyosho(jid)
    elif access.jigyosho_ids is not None:
        ids = sorted(access.jigyosho_ids)
    ctx = ctx_of(rt)
    actor = actor_of(p, request)
    run_id, written = teiji_run.run(rt.db.transaction, access.tenant_id, body.year, ids, p.subject, ctx.rules,
                                    ctx.clock.now())
    with rt.transaction() as session:
        messaging.record(session, events.teiji_run_completed(access.tenant_id, run_id, body.year, ids, written,
                                                             actor))
    with rt.db.sessions() as session:
        run = session.get(TeijiRun, run_id)
        assert run is not None
        return _run_out(session, access, run, written)


def _run(session: Session, access: Access, run_id: str) -> TeijiRun:
    run = session.get(TeijiRun, run_id)
    if run is None or run.tenant_id != access.tenant_id:
        raise not_found()
    return run


@router.get("/teiji-runs/{teiji_run_id}", response_model=TeijiRunOut, responses=PROBLEMS)
def get_teiji_run(teiji_run_id: Annotated[str, Path(pattern=REF_ID)], access: CanRead, rt: Rt) -> TeijiRunOut:
    """A run's summary per 事業所 (the caller's 事業所 only)."""
    with rt.db.sessions() as session:
        return _run_out(session, access, _run(session, access, teiji_run_id), 0)


@router.get("/teiji-runs/{teiji_run_id}/results", response_model=TeijiResultPage, responses=PROBLEMS)
def teiji_results(teiji_run_id: Annotated[str, Path(pattern=REF_ID)], access: CanRead, rt: Rt,
                  jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None, limit: Limit = 50,
                  offset: Offset = 0) -> TeijiResultPage:
    """Per person: excluded (why) or decided (old and new grades of both insurances, flags)."""
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    with rt.db.sessions() as session:
        return service.teiji_results(session, access.tenant_id, _run(session, access, teiji_run_id), jigyosho_id,
                                     access.jigyosho_ids, limit, offset)


@router.post("/enrolments/{shaho_enrolment_id}/bonuses", status_code=status.HTTP_201_CREATED, response_model=BonusOut,
             responses=WRITE_PROBLEMS)
def record_bonus(shaho_enrolment_id: EnrolmentId, body: BonusIn, p: TenantPrincipal, access: CanWrite,
                 request: Request, rt: Rt) -> BonusOut:
    """A 賞与 paid: the month's 標準賞与額 (1,000円未満切捨て) capped for 健保 (573万円 per fiscal year) and
    厚年 (150万円 per month), the bonus premium and the 賞与支払届 deadline."""
    def work() -> BonusOut:
        with rt.transaction() as session:
            return service.record_bonus(session, ctx_of(rt), _enrolment(session, access, shaho_enrolment_id), body,
                                        actor_of(p, request))

    return unique_or_409(work, attempts=3)


@router.get("/enrolments/{shaho_enrolment_id}/bonuses", response_model=BonusList, responses=PROBLEMS)
def list_bonuses(shaho_enrolment_id: EnrolmentId, access: CanRead, rt: Rt) -> BonusList:
    with rt.db.sessions() as session:
        return BonusList(items=service.list_bonuses(session, ctx_of(rt),
                                                    _enrolment(session, access, shaho_enrolment_id)))
