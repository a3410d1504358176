"""Routes of the koyo_hoken service: parse, authorize, call a use case.

Every route is scoped by tenant and by the caller's 事業所 grant: an id outside them answers 404,
exactly like a missing one. My Number is never in a response except from the unmasked routes,
which need the `my_number_unmasked` grant and are recorded as roumu.koyo_hoken.my_number.viewed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.koyo_hoken import csv_io, events, handoff, intake, repository, service
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import InsuredPerson, Procedure, idempotency, messaging
from services.koyo_hoken.rules import deadlines as dl
from services.koyo_hoken.rules import eligibility, rishoku
from services.koyo_hoken.rules.lifecycle import OPEN_BEFORE_FILING
from services.koyo_hoken.schemas import (
    REF_ID,
    CertificateOut,
    DeadlineItem,
    DeadlinePage,
    DeadlineSummary,
    DeadlineSummaryRow,
    EfilingRequest,
    EligibilityOut,
    EligibilityRequest,
    FormDataOut,
    ImportResult,
    ImportRowError,
    InsuredPersonCreate,
    InsuredPersonOut,
    InsuredPersonPage,
    InsuredPersonUpdate,
    MyNumberIn,
    MyNumberOut,
    MyNumberReceived,
    ProcedureCreate,
    ProcedureOut,
    ProcedurePage,
    ProcedureUpdate,
    RishokuPreviewRequest,
    TransitionIn,
)
from shared import paging
from shared.auth_deps import TenantPrincipal, actor_of, require_menu
from shared.errors import ProblemError, not_found, problem_responses
from shared.idempotency import Answer, IdempotencyKey
from shared.permissions import KOYO_HOKEN, MY_NUMBER_UNMASKED, Access
from shared.service_app import Runtime, runtime
from shared.tokens import Principal
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("koyo_hoken"), tags=["koyo_hoken"])
Rt = Annotated[Runtime, Depends(runtime)]
CanRead = Annotated[Access, Depends(require_menu(KOYO_HOKEN, "read"))]
CanWrite = Annotated[Access, Depends(require_menu(KOYO_HOKEN, "write"))]
CanUnmask = Annotated[Access, Depends(require_menu(MY_NUMBER_UNMASKED, "read"))]
# The collection partner's write-only scope, or the menu for staff.
CanTakeMyNumber = Annotated[Access, Depends(require_menu(KOYO_HOKEN, "write", partner_scopes=("mynumber:write",)))]
REPLAYED: dict[int | str, dict[str, Any]] = {
    201: {"description": "登録しました。同じ Idempotency-Key・同じ内容の再送には最初の応答をそのまま返します "
                         "(ヘッダー Idempotent-Replayed: true)"}}
IfMatch = Annotated[str | None, Header(alias="If-Match", description='取得時の ETag (例: "3")')]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
PersonSort = Annotated[paging.Sort, paging.sort_param("PersonSort")]
ProcedureSort = Annotated[paging.Sort, paging.sort_param("ProcedureSort")]

PROBLEMS = problem_responses(401, 403, 404, 422)
EDIT_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 422, 428)
CSV = "text/csv; charset=utf-8"


T = TypeVar("T")
RACED = ProblemError(409, "conflict", "他の操作と同時に更新されました", "もう一度操作してください")


def retry_on_conflict(work: Callable[[], T], attempts: int = 3) -> T:
    """Run a unit of work again when a concurrent one committed first and the database refused this
    one (a unique index: the 被保険者番号 holder): the next run reads what committed and answers
    as service.claim_number decides. Still refused after `attempts`: 409, never a 500."""
    for _ in range(attempts):
        try:
            return work()
        except IntegrityError:
            continue
    raise RACED


def ctx_of(rt: Runtime) -> KoyoContext:
    ctx: KoyoContext = rt.extras["koyo"]
    return ctx


def partner_operation(*scopes: str) -> dict[str, Any]:
    """Marks an operation for the public Partner API (ops.contracts collects these)."""
    return {"x-roumu-partner": {"scopes": list(scopes)}}


def _fingerprint_key(ctx: KoyoContext) -> bytes:
    """Idempotency fingerprints of bodies holding a My Number are keyed (shared.idempotency)."""
    return ctx.data_keys.fingerprint_key("koyo_hoken.idempotency")


def _person(session: Session, access: Access, person_id: str) -> InsuredPerson:
    p = repository.insured_person_in_tenant(session, access.tenant_id, person_id)
    if p is None or not access.allows_jigyosho(p.jigyosho_id):
        raise not_found()
    return p


def _procedure(session: Session, access: Access, procedure_id: str) -> tuple[Procedure, InsuredPerson]:
    pr = repository.procedure_in_tenant(session, access.tenant_id, procedure_id)
    if pr is None or not access.allows_jigyosho(pr.jigyosho_id):
        raise not_found()
    p = repository.insured_person_in_tenant(session, access.tenant_id, pr.insured_person_id)
    if p is None:
        raise not_found()
    return pr, p


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


# --- insured persons ---------------------------------------------------------------------------

@router.post("/insured-persons", status_code=status.HTTP_201_CREATED, response_model=InsuredPersonOut,
             responses={**problem_responses(401, 403, 404, 409, 422), **REPLAYED},
             openapi_extra=partner_operation("employees:write"))
def register_insured_person(body: InsuredPersonCreate, p: TenantPrincipal, access: CanWrite, request: Request,
                            rt: Rt, idempotency_key: IdempotencyKey = None) -> Response:
    """Register an insured person (被保険者) of one of the 事業所 granted to the caller — a partner's
    hire. Furigana is normalised to full-width katakana; characters e-Gov rejects are answered in
    `egov_char_warnings`. `my_number` is sealed at rest and never answered. With `Idempotency-Key`
    a resend answers the first result (`Idempotent-Replayed: true`)."""
    access.check_jigyosho(body.jigyosho_id)
    ctx = ctx_of(rt)

    def work(session: Session) -> Answer:
        person = service.register_insured_person(session, ctx, access, body, actor_of(p, request))
        out = service.person_out(ctx, person)
        return Answer(201, out, {"Location": f"{router.prefix}/insured-persons/{out.id}",
                                 "ETag": f'"{out.version}"'})

    return retry_on_conflict(lambda: idempotency.run(rt.transaction, request, access.tenant_id, p.subject,
                                                     idempotency_key, body.model_dump(mode="json"), work,
                                                     secret=_fingerprint_key(ctx)))


@router.get("/insured-persons", response_model=InsuredPersonPage, responses=PROBLEMS,
            openapi_extra=partner_operation("employees:read"))
def list_insured_persons(
    access: CanRead, rt: Rt, request: Request,
    jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
    limit: Limit = 50, offset: Offset = 0, sort: PersonSort = "created_at",
    updated_since: paging.UpdatedSince = None,
) -> InsuredPersonPage:
    """Insured persons of the 事業所 granted to the caller (one of them with `jigyosho_id`). To sync:
    `sort=updated_at&updated_since=<the last updated_at seen>` and follow `next` (shared/paging.py)."""
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    ctx = ctx_of(rt)
    with rt.db.sessions() as session:
        rows, total = repository.insured_persons_in_tenant(session, access.tenant_id, jigyosho_id,
                                                           access.jigyosho_ids, limit, offset, sort=sort,
                                                           updated_since=updated_since)
        return InsuredPersonPage(items=[service.person_out(ctx, r) for r in rows], total=total, limit=limit,
                                 offset=offset, next=paging.next_link(request, limit, offset, total))


@router.get("/insured-persons/export.csv", response_class=Response, responses={
    200: {"content": {"text/csv": {}}, "description": "UTF-8 (BOM) CSV; My Number masked"}, **PROBLEMS})
def export_insured_persons(access: CanRead, p: TenantPrincipal, request: Request, rt: Rt,
                           jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None) -> Response:
    """Every insured person the caller may see, as CSV (the import's columns; My Number masked).
    Each export is in the operation log (roumu.koyo_hoken.insured_persons.exported: who, how many
    rows, which 事業所; not the rows)."""
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    with rt.transaction() as session:
        persons = list(repository.all_persons(session, access.tenant_id, access.jigyosho_ids, jigyosho_id))
        body = csv_io.export(ctx_of(rt), persons)
        messaging.record(session, events.insured_persons_exported(
            access.tenant_id, actor_of(p, request), jigyosho_id, len(persons), {x.jigyosho_id for x in persons}))
    rt.relay.notify()
    return Response(body, media_type=CSV,
                    headers={"Content-Disposition": 'attachment; filename="insured-persons.csv"'})


@router.post("/insured-persons/import", response_model=ImportResult,
             responses={**problem_responses(401, 403, 409, 413, 415, 422)},
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_insured_persons(
    request: Request, p: TenantPrincipal, access: CanWrite, rt: Rt,
    mode: Annotated[Literal["all_or_nothing", "partial"], Query()] = "all_or_nothing",
    mapping: Annotated[str, Query(max_length=50,
                                  description="列マッピング: roumu / ja / テナントで保存した名前")] = "roumu",
) -> ImportResult:
    """CSV import of hires (new insured persons) and leavers (draft 資格喪失届), columns as the
    export plus `action` (mapping `roumu`), or a payroll export through a named mapping (`ja`:
    Japanese headers, 事業所 by 事業所番号 or name; or one the tenant saved). UTF-8 (with or without
    BOM) or CP932, detected. `all_or_nothing` (default): any row error → nothing imported, 422
    with every error (row and the file's column); `partial`: valid rows imported, errors answered
    with them."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("text/csv", "application/octet-stream"):
        raise ProblemError(415, "unsupported-media-type", "対応していない形式です", "text/csv で送ってください")
    text, encoding = intake.decode(await request.body())
    actor = actor_of(p, request)
    ctx = ctx_of(rt)

    def run() -> tuple[int, int, list[ImportRowError], int]:
        with rt.transaction() as session:
            m = csv_io.find_mapping(session, access.tenant_id, mapping, "persons")
            return csv_io.run_import(session, ctx, access, text, mode, actor, m)

    def work() -> ImportResult:
        rows, persons, errors, procs = retry_on_conflict(run)
        result = ImportResult(mode=mode, rows=rows, imported_persons=persons, created_procedures=procs, errors=errors,
                              encoding=encoding, mapping=mapping)
        if errors and mode == "all_or_nothing":
            raise ProblemError(422, "validation", "CSVに誤りがあります（何も取り込んでいません）",
                               f"{len(errors)}件の誤り", extra={"result": result.model_dump(mode="json")},
                               errors=[{"field": f"row{e.row}.{e.field}", "message": e.message, "code": "invalid"}
                                       for e in errors])
        return result

    return await anyio.to_thread.run_sync(work)


@router.get("/insured-persons/{person_id}", response_model=InsuredPersonOut, responses=PROBLEMS,
            openapi_extra=partner_operation("employees:read"))
def get_insured_person(person_id: str, access: CanRead, rt: Rt, response: Response) -> InsuredPersonOut:
    with rt.db.sessions() as session:
        # Scoped by tenant and 事業所 grant: an id outside them is indistinguishable from a missing one.
        person = _person(session, access, person_id)
        _etag(response, person.version)
        return service.person_out(ctx_of(rt), person)


@router.patch("/insured-persons/{person_id}", response_model=InsuredPersonOut, responses=EDIT_PROBLEMS)
def update_insured_person(person_id: str, body: InsuredPersonUpdate, p: TenantPrincipal, access: CanWrite,
                          request: Request, rt: Rt, response: Response, if_match: IfMatch = None) -> InsuredPersonOut:
    """Change some fields (If-Match). The event names the fields that changed, never their values."""
    ctx = ctx_of(rt)

    def work() -> InsuredPersonOut:
        with service.stale_is_412(), rt.transaction() as session:
            person = service.update_insured_person(session, ctx, access, _person(session, access, person_id), body,
                                                   if_match, actor_of(p, request))
            return service.person_out(ctx, person)

    out = retry_on_conflict(work)
    _etag(response, out.version)
    return out


@router.post("/insured-persons/{person_id}/my-number-intake", status_code=status.HTTP_202_ACCEPTED,
             response_model=MyNumberReceived, responses=problem_responses(401, 403, 404, 422),
             openapi_extra=partner_operation("mynumber:write"))
def take_my_number(person_id: str, body: MyNumberIn, p: TenantPrincipal, access: CanTakeMyNumber,
                   request: Request, rt: Rt, idempotency_key: IdempotencyKey = None) -> Response:
    """My Number from a collection partner (scope `mynumber:write`, write-only: it reads nothing
    else). Check digit verified, sealed on arrival with the data keys (AES-256-GCM), recorded as
    roumu.koyo_hoken.insured_person.updated (`my_number`); the answer never holds the number, not
    even masked. Replaces a number registered before."""
    ctx = ctx_of(rt)

    def work(session: Session) -> Answer:
        person = _person(session, access, person_id)
        service.set_my_number(session, ctx, person, body.my_number, f'"{person.version}"', actor_of(p, request))
        return Answer(202, MyNumberReceived(insured_person_id=person.id, received_at=ctx.clock.now()), {})

    return idempotency.run(rt.transaction, request, access.tenant_id, p.subject, idempotency_key,
                           body.model_dump(mode="json"), work, secret=_fingerprint_key(ctx))


@router.put("/insured-persons/{person_id}/my-number", response_model=InsuredPersonOut, responses=EDIT_PROBLEMS)
def set_my_number(person_id: str, body: MyNumberIn, p: TenantPrincipal, access: CanWrite, request: Request,
                  rt: Rt, response: Response, if_match: IfMatch = None) -> InsuredPersonOut:
    """Register or replace the My Number (check digit verified; sealed at rest; answered masked)."""
    ctx = ctx_of(rt)
    with service.stale_is_412(), rt.transaction() as session:
        person = service.set_my_number(session, ctx, _person(session, access, person_id), body.my_number, if_match,
                                       actor_of(p, request))
        out = service.person_out(ctx, person)
    _etag(response, out.version)
    return out


@router.get("/insured-persons/{person_id}/my-number", response_model=MyNumberOut, responses=PROBLEMS)
def get_my_number(person_id: str, p: TenantPrincipal, access: CanRead, unmask: CanUnmask, request: Request,
                  rt: Rt, response: Response) -> MyNumberOut:
    """The unmasked My Number: needs the `my_number_unmasked` grant (explicit, even for an
    administrator); every read is recorded as roumu.koyo_hoken.my_number.viewed."""
    response.headers["Cache-Control"] = "no-store"
    with rt.transaction() as session:
        person = _person(session, access, person_id)
        if not unmask.allows_jigyosho(person.jigyosho_id):
            raise not_found()
        digits = service.read_my_number(session, ctx_of(rt), person, actor_of(p, request), "screen")
        if digits is None:
            raise ProblemError(404, "not-found", "個人番号が登録されていません")
        return MyNumberOut(insured_person_id=person.id, my_number=digits)


# --- rules as an API ---------------------------------------------------------------------------

@router.post("/eligibility", response_model=EligibilityOut, responses=PROBLEMS)
def check_eligibility(body: EligibilityRequest, access: CanRead) -> EligibilityOut:
    """Is this employment insured? Ask before a hire: the decision names its reason and the rule
    version it applied (20 h until 2028-09-30, 10 h from 2028-10-01), and explains the
    マルチジョブホルダー path when it is open (the worker applies; the employer certifies)."""
    d = eligibility.decide(eligibility.Facts(
        on=body.on, birth_date=body.birth_date, weekly_hours=body.weekly_hours,
        employment_start=body.employment_start or body.on, contract_end=body.contract_end,
        renewal_clause=body.renewal_clause, renewal_practice=body.renewal_practice, student=body.student,
        other_jobs=[eligibility.OtherJob(j.weekly_hours, j.expects_31_days) for j in body.other_jobs]))
    return EligibilityOut.model_validate({**d.__dict__, "notes": list(d.notes),
                                          "multi_job": d.multi_job.__dict__ if d.multi_job else None})


@router.post("/rishoku-shomeisho/preview", response_model=CertificateOut, responses=PROBLEMS)
def preview_rishoku_shomeisho(body: RishokuPreviewRequest, access: CanRead) -> CertificateOut:
    """The ⑧–⑫ rows of a 離職証明書 from a wage history, with what they do not yet show."""
    wh = body.wage_history
    try:
        cert = rishoku.build(rishoku.Input(
            body.rishoku_date, body.insured_since, wh.pay_type, wh.closing_day,
            [rishoku.WagePeriod(w.start, w.end, w.basic_days, w.wages_a, w.wages_b, w.total, w.hours)
             for w in wh.periods],
            [rishoku.SliceDays(s.start, s.basic_days, s.hours) for s in wh.slice_days], body.tokutei))
    except rishoku.RishokuError as e:
        raise ProblemError(422, "validation", "賃金の記録に誤りがあります", str(e),
                           errors=[{"field": "body.wage_history", "message": str(e), "code": "invalid"}]) from None
    return CertificateOut.model_validate(cert)


# --- procedures --------------------------------------------------------------------------------

@router.post("/procedures", status_code=status.HTTP_201_CREATED, response_model=ProcedureOut,
             responses={**problem_responses(401, 403, 404, 409, 422), **REPLAYED},
             openapi_extra=partner_operation("employees:write"))
def create_procedure(body: ProcedureCreate, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                     idempotency_key: IdempotencyKey = None) -> Response:
    """Start a 資格取得届, 資格喪失届 (with_rishoku_shomeisho for the 離職証明書 — mandatory, and
    enforced, when the leaver is 59 or older on the 離職日) or 転勤届, as a draft with its deadline.
    With `Idempotency-Key` a resend answers the first result (`Idempotent-Replayed: true`)."""
    ctx = ctx_of(rt)

    def work(session: Session) -> Answer:
        out = ProcedureOut.model_validate(service.create_procedure(session, ctx, access, body, actor_of(p, request)))
        return Answer(201, out, {"Location": f"{router.prefix}/procedures/{out.id}", "ETag": f'"{out.version}"'})

    return retry_on_conflict(lambda: idempotency.run(rt.transaction, request, access.tenant_id, p.subject,
                                                     idempotency_key, body.model_dump(mode="json"), work))


@router.get("/procedures", response_model=ProcedurePage, responses=PROBLEMS,
            openapi_extra=partner_operation("employees:read"))
def list_procedures(
    access: CanRead, rt: Rt, request: Request,
    jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
    insured_person_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    limit: Limit = 50, offset: Offset = 0, sort: ProcedureSort = "created_at",
    updated_since: paging.UpdatedSince = None,
) -> ProcedurePage:
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    with rt.db.sessions() as session:
        rows, total = repository.procedures_in_tenant(session, access.tenant_id, access.jigyosho_ids,
                                                      jigyosho_id=jigyosho_id, person_id=insured_person_id,
                                                      kind=kind, state=state, limit=limit, offset=offset,
                                                      sort=sort, updated_since=updated_since)
        return ProcedurePage(items=[ProcedureOut.model_validate(r) for r in rows], total=total, limit=limit,
                             offset=offset, next=paging.next_link(request, limit, offset, total))


@router.get("/procedures/{procedure_id}", response_model=ProcedureOut, responses=PROBLEMS,
            openapi_extra=partner_operation("employees:read"))
def get_procedure(procedure_id: str, access: CanRead, rt: Rt, response: Response) -> ProcedureOut:
    with rt.db.sessions() as session:
        pr, _ = _procedure(session, access, procedure_id)
        _etag(response, pr.version)
        return ProcedureOut.model_validate(pr)


@router.patch("/procedures/{procedure_id}", response_model=ProcedureOut, responses=EDIT_PROBLEMS)
def update_procedure(procedure_id: str, body: ProcedureUpdate, p: TenantPrincipal, access: CanWrite,
                     request: Request, rt: Rt, response: Response, if_match: IfMatch = None) -> ProcedureOut:
    """Edit a draft, checked or returned procedure (If-Match): it goes back to draft."""
    with service.stale_is_412(), rt.transaction() as session:
        pr, person = _procedure(session, access, procedure_id)
        pr = service.update_procedure(session, ctx_of(rt), pr, person, body, if_match, actor_of(p, request))
        out = ProcedureOut.model_validate(pr)
    _etag(response, out.version)
    return out


def _step(procedure_id: str, p: TenantPrincipal, access: Access, request: Request, rt: Runtime,
          response: Response, action: str, transition: TransitionIn | None = None,
          if_match: str | None = None) -> ProcedureOut:
    """`check` and `ready` change a versioned procedure like any edit: If-Match (428 without, 412 if
    stale, or when a concurrent write commits first)."""
    ctx = ctx_of(rt)
    with service.stale_is_412(), rt.transaction() as session:
        pr, person = _procedure(session, access, procedure_id)
        if action in ("check", "ready"):
            service.check_version(pr.version, if_match)
        actor = actor_of(p, request)
        if action == "check":
            pr = service.check_procedure(session, ctx, pr, person, actor)
        elif action == "ready":
            pr = service.mark_ready(session, ctx, pr, person, actor)
        else:
            assert transition is not None
            pr = service.transition(session, ctx, pr, transition.state, actor, transition.reason)
        out = ProcedureOut.model_validate(pr)
    _etag(response, out.version)
    return out


@router.post("/procedures/{procedure_id}/check", response_model=ProcedureOut, responses=EDIT_PROBLEMS)
def check_procedure(procedure_id: str, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                    response: Response, if_match: IfMatch = None) -> ProcedureOut:
    """Validate every field the form requires (If-Match): no error → `checked`, else it stays
    `draft` with `problems` (warnings never block)."""
    return _step(procedure_id, p, access, request, rt, response, "check", if_match=if_match)


@router.post("/procedures/{procedure_id}/ready", response_model=ProcedureOut, responses=EDIT_PROBLEMS)
def ready_procedure(procedure_id: str, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                    response: Response, if_match: IfMatch = None) -> ProcedureOut:
    """checked → ready (If-Match): the hand-off to e-filing (roumu.koyo_hoken.procedure.ready with
    the form ids and the form-data path; see docs/koyo_hoken.md)."""
    return _step(procedure_id, p, access, request, rt, response, "ready", if_match=if_match)


def _unmask_grant(p: Principal, rt: Runtime) -> Access | None:
    """The caller's grant of the unmasked view of My Number, if any."""
    try:
        return require_menu(MY_NUMBER_UNMASKED, "read")(p, rt)
    except ProblemError:
        return None


@router.post("/procedures/{procedure_id}/efiling", response_model=ProcedureOut,
             responses=problem_responses(401, 403, 404, 409, 422, 502))
def file_procedure(procedure_id: str, body: EfilingRequest, p: TenantPrincipal, access: CanWrite,
                   request: Request, rt: Rt, response: Response) -> ProcedureOut:
    """Hand a `ready` procedure to e-filing: koyo_hoken creates the filing with its form data
    (POST /api/v1/efiling/filings with a service token, `Idempotency-Key` = the procedure id, so a
    retry never makes a second filing) and answers the procedure with its `filing_id`. Staff then
    send it in e-filing; its status events move the procedure (docs/koyo_hoken.md).
    When the person's My Number is registered, the form data carries it to e-Gov: handing it on
    discloses it, so it needs the unmasked view of My Number (`my_number_unmasked`) on the
    procedure's 事業所 as well (403 otherwise), and is recorded as roumu.koyo_hoken.my_number.viewed."""
    ctx = ctx_of(rt)
    unmask = _unmask_grant(p, rt)  # before the transaction: on SQLite a second session would wait for it
    with rt.transaction() as session:
        pr, person = _procedure(session, access, procedure_id)
        if pr.state != "ready":
            raise ProblemError(409, "conflict", "提出準備済みの届出だけを電子申請に回せます", f"現在の状態: {pr.state}")
        if person.my_number_sealed is not None and (unmask is None or not unmask.allows_jigyosho(pr.jigyosho_id)):
            raise ProblemError(403, "forbidden", "この操作を行う権限がありません",
                               "個人番号を含む届出を電子申請に回すには、この事業所の「マイナンバー表示（マスク解除）」"
                               "権限が必要です", extra={"menu": MY_NUMBER_UNMASKED, "level": "read"})
        data = service.build_form_data(session, ctx, pr, person, actor_of(p, request), True)
        jigyosho_id, person_id = pr.jigyosho_id, person.id
    filing_id = handoff.create_filing(rt, access.tenant_id, procedure_id, jigyosho_id, data, body.applicant,
                                      body.egov_account_id, person_id)
    with rt.transaction() as session:
        pr, _ = _procedure(session, access, procedure_id)
        if pr.filing_id is None:
            # The consumer of e-filing's events may be recording the same filing id right now
            # (filing.drafted): lock and re-read, so neither write fails the version check.
            session.refresh(pr, with_for_update=True)
        if pr.filing_id is None:
            pr.filing_id = filing_id
        session.flush()
        _etag(response, pr.version)
        return ProcedureOut.model_validate(pr)


@router.post("/procedures/{procedure_id}/transitions", response_model=ProcedureOut, responses=EDIT_PROBLEMS)
def transition_procedure(procedure_id: str, body: TransitionIn, p: TenantPrincipal, access: CanWrite,
                         request: Request, rt: Rt, response: Response) -> ProcedureOut:
    """Record a state change by hand (a paper filing, a withdrawal); e-filing's events do the same
    for electronic filings."""
    return _step(procedure_id, p, access, request, rt, response, "transition", body)


@router.get("/procedures/{procedure_id}/form-data", response_model=FormDataOut,
            responses=problem_responses(401, 403, 404, 409))
def get_form_data(procedure_id: str, p: TenantPrincipal, access: CanRead, request: Request, rt: Rt,
                  response: Response, unmask: bool = False) -> FormDataOut:
    """The form data e-filing packages (form ids and versions in force, e-Gov element names).
    `個人番号` is masked unless `unmask=true`, which needs the `my_number_unmasked` grant (a service
    token of e-filing holds it) and is recorded as roumu.koyo_hoken.my_number.viewed."""
    response.headers["Cache-Control"] = "no-store"
    if unmask:
        grant = require_menu(MY_NUMBER_UNMASKED, "read")(p, rt)
    with rt.transaction() as session:
        pr, person = _procedure(session, access, procedure_id)
        if unmask and not grant.allows_jigyosho(pr.jigyosho_id):
            raise not_found()
        data = service.build_form_data(session, ctx_of(rt), pr, person, actor_of(p, request), unmask)
    return FormDataOut.model_validate(data)


# --- deadlines ---------------------------------------------------------------------------------

def _deadline_items(session: Session, ctx: KoyoContext, access: Access, jigyosho_id: str | None,
                    today: date) -> list[DeadlineItem]:
    soon = ctx.settings.due_soon_days
    items: list[DeadlineItem] = []
    for pr in repository.pending_procedures(session, access.tenant_id, access.jigyosho_ids, jigyosho_id,
                                            [s.value for s in OPEN_BEFORE_FILING]):
        items.append(DeadlineItem(jigyosho_id=pr.jigyosho_id, insured_person_id=pr.insured_person_id,
                                  procedure_id=pr.id, kind=pr.kind, state=pr.state, event_date=pr.event_date,
                                  raw_due_date=pr.raw_due_date, due_date=pr.due_date,
                                  due_state=dl.due_state(pr.due_date, today, soon),
                                  days_left=(pr.due_date - today).days))
    missing = repository.persons_missing_shutoku(session, access.tenant_id, access.jigyosho_ids, jigyosho_id)
    # A person made insured by a re-judgement (2028-10-01) owes the 取得届 from that date (issue 25).
    changes = repository.became_insured(session, access.tenant_id, [p.id for p in missing])
    for person in missing:
        acquired = changes[person.id].as_of if person.id in changes else person.hire_date
        d = dl.shikaku_shutoku(acquired, ctx.settings.shift_fixed_date_deadlines)
        items.append(DeadlineItem(jigyosho_id=person.jigyosho_id, insured_person_id=person.id, procedure_id=None,
                                  kind="shikaku_shutoku", state=None, event_date=acquired, raw_due_date=d.raw,
                                  due_date=d.due, due_state=dl.due_state(d.due, today, soon),
                                  days_left=(d.due - today).days))
    items.sort(key=lambda i: (i.due_date, i.jigyosho_id, i.insured_person_id))
    return items


@router.get("/deadlines", response_model=DeadlinePage, responses=PROBLEMS)
def list_deadlines(
    access: CanRead, rt: Rt,
    jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
    due_state: Annotated[Literal["overdue", "due_soon", "upcoming"] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    due_from: Annotated[date | None, Query()] = None,
    due_to: Annotated[date | None, Query()] = None,
    limit: Limit = 50, offset: Offset = 0,
) -> DeadlinePage:
    """Deadlines of procedures not yet filed, and of 取得届 not yet started for persons without a
    被保険者番号, soonest first; only the 事業所 the caller may see."""
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    ctx = ctx_of(rt)
    today = ctx.today()
    with rt.db.sessions() as session:
        items = _deadline_items(session, ctx, access, jigyosho_id, today)
    items = [i for i in items if (due_state is None or i.due_state == due_state)
             and (kind is None or i.kind == kind) and (due_from is None or i.due_date >= due_from)
             and (due_to is None or i.due_date <= due_to)]
    return DeadlinePage(today=today, items=items[offset:offset + limit], total=len(items), limit=limit,
                        offset=offset)


@router.get("/deadlines/summary", response_model=DeadlineSummary, responses=PROBLEMS)
def deadline_summary(access: CanRead, rt: Rt) -> DeadlineSummary:
    """Per 事業所 the caller may see: how many deadlines are overdue, due soon, upcoming."""
    ctx = ctx_of(rt)
    today = ctx.today()
    with rt.db.sessions() as session:
        items = _deadline_items(session, ctx, access, None, today)
    counts: dict[str, dict[str, Any]] = {}
    for i in items:
        row = counts.setdefault(i.jigyosho_id, {"jigyosho_id": i.jigyosho_id, "overdue": 0, "due_soon": 0,
                                                "upcoming": 0})
        row[i.due_state] += 1
    return DeadlineSummary(today=today, jigyosho=[DeadlineSummaryRow(**counts[k]) for k in sorted(counts)])
