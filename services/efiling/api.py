"""Routes of the efiling service: parse, authorize, call a use case.

Every filing route is scoped by tenant and by the caller's 事業所 grant: an id outside them is
404, exactly like a missing one. Mutations of a filing take its ETag in If-Match; sending takes
an Idempotency-Key, so a retried request never files twice."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.efiling import attachments, context, events, packages, repository, service, submission
from services.efiling.documents import StoreError, legacy_blob
from services.efiling.egov_accounts import finish_link, start_link, unlink
from services.efiling.models import EgovAccount, FilingPackage, OfficialDocument, Submission, messaging
from services.efiling.schemas import (
    IDEMPOTENCY_KEY,
    PROC_ID,
    REF_ID,
    AmendIn,
    BulkItemOut,
    BulkSubmitIn,
    BulkSubmitOut,
    EgovAccountCreate,
    EgovAccountOut,
    FilingCreate,
    FilingDetail,
    FilingList,
    FilingOut,
    LinkCallback,
    LinkStarted,
    SubmitIn,
    SubmitOut,
    WithdrawIn,
)
from shared import paging
from shared.auth_deps import TenantPrincipal, actor_of, require_menu
from shared.errors import ProblemError, not_found, problem_responses
from shared.permissions import EFILING, MY_NUMBER_UNMASKED, Access
from shared.service_app import Runtime, runtime
from shared.tokens import Principal
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("efiling"), tags=["efiling"])
Rt = Annotated[Runtime, Depends(runtime)]
CanRead = Annotated[Access, Depends(require_menu(EFILING, "read"))]
CanWrite = Annotated[Access, Depends(require_menu(EFILING, "write"))]
IfMatch = Annotated[str | None, Header(alias="If-Match", description='取得時の ETag (例: "3")')]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY,
                                       description="再送しても二重に処理しないためのキー (呼び出し側の手続IDなど)")]

PROBLEMS = problem_responses(401, 403, 404, 422)
MUTATION_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 422, 428, 503)
ZIP: dict[int | str, dict[str, Any]] = {200: {"content": {"application/zip": {}}, "description": "ZIP"}}
PACKAGE_ZIP: dict[int | str, dict[str, Any]] = {200: {
    "content": {"application/zip": {}},
    "description": "ZIP。マイナンバー表示（マスク解除）の権限がなければ個人番号の要素を空にしたもの",
    "headers": {"X-Roumu-My-Number": {
        "description": "`shown` (個人番号をそのまま含む)、`blanked` (個人番号の要素を空にした)、`none` (個人番号なし)",
        "schema": {"type": "string", "enum": ["shown", "blanked", "none"]}}}}}
REPLAYED: dict[int | str, dict[str, Any]] = {
    200: {"description": "同じ Idempotency-Key の再送: 最初に作成された申請", "model": FilingOut},
}
# Operations of the public Partner API (ops/partner_contract.py collects them): scope filings:read.
PARTNER_READ: dict[str, Any] = {"x-roumu-partner": {"scopes": ["filings:read"]}}
FilingSort = Annotated[paging.Sort, paging.sort_param("FilingSort")]
KEY_REQUIRED = ProblemError(428, "idempotency-key-required", "Idempotency-Key ヘッダーが必要です",
                            "再送しても二重に送信しないよう、要求ごとに一意のキーを指定してください")


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def _wake(rt: Runtime) -> None:
    worker = context.of(rt).worker
    if worker is not None:
        worker.wake()


# ---------------------------------------------------------------- filings


@router.post("/filings", status_code=status.HTTP_201_CREATED, response_model=FilingOut,
             responses={**PROBLEMS, **problem_responses(428, 502), **REPLAYED})
def draft_filing(body: FilingCreate, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                 response: Response, idempotency_key: IdemKey = None) -> FilingOut:
    """Create a filing: by a staff user, or by koyo_hoken / jimukumiai with a service token (then
    `Idempotency-Key` is required: their procedure id). With `forms` and `applicant` the filing can
    be sent; refused characters and form problems are 422 with the field. The same key returns the
    filing it first created (200, `Idempotent-Replayed: true`) instead of creating another.
    `attachments` (files of the files service) are read and checked first: 422 `attachment-refused`
    names each one that is missing, not yet servable, of another type or too large."""
    source = None
    if p.kind == "service":
        if p.subject not in service.CALLERS:
            raise ProblemError(403, "forbidden", "この操作を行う権限がありません", "申請を依頼できないサービスです")
        if idempotency_key is None:
            raise KEY_REQUIRED
        source = p.subject
    access.check_jigyosho(body.jigyosho_id)
    ctx = context.of(rt)
    # Attachments are read from the files service before the transaction (no call under a lock),
    # and not for a retry of a filing already created (its attachments are kept with it).
    atts = []
    if body.attachments and body.forms and not _replay_of(rt, access.tenant_id, idempotency_key):
        atts = attachments.fetch(ctx.store, access.tenant_id, body.attachments)
    with rt.transaction() as session:
        filing, created = service.draft_filing(session, access.tenant_id, body, actor_of(p, request),
                                               idempotency_key, egov=ctx.egov, source=source, attachments=atts)
        out = service.filing_out(filing, session.get(Submission, filing.id))
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"{router.prefix}/filings/{out.id}"
    _etag(response, out.version)
    return out


def _replay_of(rt: Runtime, tenant_id: str, idempotency_key: str | None) -> bool:
    if idempotency_key is None:
        return False
    with rt.db.sessions() as session:
        return repository.filing_by_idempotency_key(session, tenant_id, idempotency_key) is not None


@router.get("/filings", response_model=FilingList, responses=PROBLEMS, openapi_extra=PARTNER_READ)
def list_filings(
    access: CanRead, rt: Rt, request: Request,
    status_: Annotated[list[str] | None, Query(alias="status", description="状態 (複数可)")] = None,
    jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
    procedure_code: Annotated[str | None, Query(pattern=PROC_ID)] = None,
    source: Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$")] = None,
    created_from: Annotated[date | None, Query(description="作成日 (日本時間) の開始日")] = None,
    created_to: Annotated[date | None, Query(description="作成日 (日本時間) の終了日 (含む)")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    sort: FilingSort = "-created_at",
    updated_since: paging.UpdatedSince = None,
) -> FilingList:
    """Filings the caller may see, newest first. To sync: `sort=updated_at&updated_since=<the last
    updated_at seen>` and follow `next` (shared/paging.py)."""
    if created_from and created_to and created_from > created_to:
        raise service.validation("query.created_from", "開始日が終了日より後です")
    with rt.db.sessions() as session:
        items, total = service.list_filings(session, access.tenant_id, access.jigyosho_ids, status=status_,
                                            jigyosho_id=jigyosho_id, procedure_code=procedure_code, source=source,
                                            created_from=created_from, created_to=created_to, limit=limit,
                                            offset=offset, sort=sort, updated_since=updated_since)
    return FilingList(items=items, total=total, limit=limit, offset=offset,
                      next=paging.next_link(request, limit, offset, total))


@router.get("/filings/{filing_id}", response_model=FilingOut, responses=PROBLEMS, openapi_extra=PARTNER_READ)
def get_filing(filing_id: str, access: CanRead, rt: Rt, response: Response) -> FilingOut:
    with rt.db.sessions() as session:
        # Scoped by tenant and 事業所 grant: an id outside them is indistinguishable from a missing one.
        filing = service.visible_filing(session, access.tenant_id, access.jigyosho_ids, filing_id)
        _etag(response, filing.version)
        return service.filing_out(filing, session.get(Submission, filing.id))


@router.get("/filings/{filing_id}/history", response_model=FilingDetail, responses=PROBLEMS)
def filing_history(filing_id: str, access: CanRead, rt: Rt, response: Response) -> FilingDetail:
    """The whole story of a filing: every state change, send, reconciliation and e-Gov status
    (raw strings kept), the notices (補正 with its deadline), the packages as sent and the 公文書."""
    with rt.db.sessions() as session:
        filing = service.visible_filing(session, access.tenant_id, access.jigyosho_ids, filing_id)
        _etag(response, filing.version)
        return service.detail(session, filing)


def _zip(data: bytes, file_name: str) -> Response:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in file_name) or "download.zip"
    return Response(content=data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"',
                             "X-Content-Type-Options": "nosniff"})


def _unmask_grant(p: Principal, rt: Runtime) -> Access | None:
    """The caller's grant of koyo_hoken's unmasked view (`my_number_unmasked`), if any; no partner
    scope holds it. Asked before a write transaction: on SQLite a second session would wait for it."""
    try:
        return require_menu(MY_NUMBER_UNMASKED, "read")(p, rt)
    except ProblemError:
        return None


@router.get("/filings/{filing_id}/packages/{package_id}", response_class=Response,
            responses={**PACKAGE_ZIP, **PROBLEMS})
def download_package(filing_id: str, package_id: str, access: CanRead, p: TenantPrincipal, request: Request,
                     rt: Rt) -> Response:
    """A package as it was sent to e-Gov (apply, amend or withdraw). Its 申請書XML holds the
    person's My Number (`個人番号`): it is served as sent only to a caller holding the unmasked
    view of My Number (`my_number_unmasked`) on the filing's 事業所, and that download is recorded
    as a view of the number (roumu.efiling.my_number.viewed, listed by audit_log's my-number-views).
    Every other caller — partners included, whatever their scopes — gets the same ZIP with each
    `個人番号` element emptied (its signature then no longer verifies). The header
    `X-Roumu-My-Number` says which: `shown`, `blanked` or `none` (the package holds no number).
    Every download is in the operation log (roumu.efiling.package.downloaded)."""
    keys = context.of(rt).egov.keys
    unmask = _unmask_grant(p, rt)
    with rt.db.sessions() as session:
        filing = service.visible_filing(session, access.tenant_id, access.jigyosho_ids, filing_id)
        pkg = session.get(FilingPackage, package_id)
        if pkg is None or pkg.filing_id != filing.id:
            raise not_found()
        data = packages.zip_of(keys, pkg)
        kind, file_name = pkg.kind, pkg.file_name
    actor = actor_of(p, request)
    shown = "none"
    if packages.carries_my_number(data):
        shown = "shown" if unmask is not None and unmask.allows_jigyosho(filing.jigyosho_id) else "blanked"
    if shown == "blanked":
        data = packages.blank_my_number(data)
    with rt.transaction() as session:
        if shown == "shown":
            messaging.record(session, events.my_number_viewed(filing, actor, package_id))
        messaging.record(session, events.package_downloaded(filing, actor, package_id, kind, shown))
    rt.relay.notify()
    response = _zip(data, file_name)
    response.headers["X-Roumu-My-Number"] = shown
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/filings/{filing_id}/documents/{document_id}", response_class=Response,
            responses={**ZIP, **PROBLEMS}, openapi_extra=PARTNER_READ)
def download_document(filing_id: str, document_id: str, access: CanRead, p: TenantPrincipal, request: Request,
                      rt: Rt) -> Response:
    """A 公文書 as e-Gov issued it (the ZIP: signed XML, XSL, attachments), read from the files
    service where it is stored (also downloadable there, by its `file_id`, with the files menu).
    Every download is in the operation log (roumu.efiling.document.downloaded)."""
    store = context.of(rt).store
    with rt.db.sessions() as session:
        filing = service.visible_filing(session, access.tenant_id, access.jigyosho_ids, filing_id)
        doc = session.get(OfficialDocument, document_id)
        if doc is None or doc.filing_id != filing.id:
            raise not_found()
        # received before 公文書 went to the files service: still in efiling's own table
        data = legacy_blob(session, filing.tenant_id, doc.blob_id) if doc.blob_id else None
        sub = session.get(Submission, filing.id)
        name = f"{sub.arrive_id if sub else filing.id}_{doc.notice_sub_id}.zip"
        file_id, notice_sub_id = doc.file_id, doc.notice_sub_id
    if data is None and file_id:
        try:
            data = store.get(filing.tenant_id, file_id)
        except StoreError as exc:
            raise ProblemError(502, "bad-gateway", "ファイルサービスに接続できません",
                               "しばらくしてから再度お試しください") from exc
    if data is None:
        raise not_found()
    with rt.transaction() as session:
        messaging.record(session, events.document_downloaded(filing, actor_of(p, request), document_id,
                                                             notice_sub_id))
    rt.relay.notify()
    return _zip(data, name)


@router.post("/filings/{filing_id}/submit", response_model=SubmitOut, responses=MUTATION_PROBLEMS)
def submit_filing(filing_id: str, access: CanWrite, p: TenantPrincipal, request: Request, rt: Rt,
                  response: Response, body: SubmitIn | None = None, if_match: IfMatch = None,
                  idempotency_key: IdemKey = None) -> SubmitOut:
    """Check (characters, e-Gov's /apply/check) and send. The state is written before the call;
    a lost answer is reconciled through e-Gov's case list before anything is sent again, by this
    request or later by the worker: a retry never files twice. Answers the filing's state:
    `arrived`, `unknown` (being reconciled), `draft` with `report_list` (the format check failed),
    or `failed` (refused). A retry with the same Idempotency-Key answers the state without
    sending (`Idempotent-Replayed: true`)."""
    if idempotency_key is None:
        raise KEY_REQUIRED
    egov = context.of(rt).egov
    fresh = service.prepare_submit(rt.db, egov, access.tenant_id, access.jigyosho_ids, filing_id, idempotency_key,
                                   if_match, body.egov_account_id if body else None)
    report: list[dict[str, Any]] = []
    if fresh:
        outcome = submission.submit(rt.db, egov, filing_id, actor_of(p, request), max_rounds=1)
        report = outcome.report_list
        rt.relay.notify()
        _wake(rt)
    else:
        response.headers["Idempotent-Replayed"] = "true"
    out = service.filing_state(rt.db, access.tenant_id, filing_id)
    _etag(response, out.version)
    return SubmitOut(filing=out, report_list=report)


@router.post("/filings/{filing_id}/amend", response_model=FilingOut, responses=MUTATION_PROBLEMS)
def amend_filing(filing_id: str, body: AmendIn, access: CanWrite, p: TenantPrincipal, request: Request, rt: Rt,
                 response: Response, if_match: IfMatch = None) -> FilingOut:
    """部分補正 of a filing e-Gov asked to correct: the corrected forms replace the old ones."""
    egov = context.of(rt).egov
    service.check_writable(rt.db, access.tenant_id, access.jigyosho_ids, filing_id, if_match)
    form_data = service.amend_form_data(rt.db, egov, filing_id, body.forms)
    submission.amend(rt.db, egov, filing_id, form_data, actor_of(p, request))
    rt.relay.notify()
    _wake(rt)
    out = service.filing_state(rt.db, access.tenant_id, filing_id)
    _etag(response, out.version)
    return out


@router.post("/filings/{filing_id}/withdraw", response_model=FilingOut, responses=MUTATION_PROBLEMS)
def withdraw_filing(filing_id: str, body: WithdrawIn, access: CanWrite, p: TenantPrincipal, request: Request,
                    rt: Rt, response: Response, if_match: IfMatch = None) -> FilingOut:
    """取下げ依頼 with its own package; the filing is `withdrawing` until e-Gov reports it withdrawn."""
    egov = context.of(rt).egov
    service.check_writable(rt.db, access.tenant_id, access.jigyosho_ids, filing_id, if_match)
    submission.withdraw(rt.db, egov, filing_id, body.reason, actor_of(p, request))
    rt.relay.notify()
    _wake(rt)
    out = service.filing_state(rt.db, access.tenant_id, filing_id)
    _etag(response, out.version)
    return out


@router.post("/filings/bulk-submit", response_model=BulkSubmitOut, responses=MUTATION_PROBLEMS)
def bulk_submit(body: BulkSubmitIn, access: CanWrite, p: TenantPrincipal, request: Request, rt: Rt,
                idempotency_key: IdemKey = None) -> BulkSubmitOut:
    """Send many filings with /bulk-apply (one send per e-Gov account, in chunks), each written
    before the call and mapped back through e-Gov's report. Only `draft` and `failed` filings are
    sent; the others are answered with their state, so repeating the request never files twice."""
    if idempotency_key is None:
        raise KEY_REQUIRED
    egov = context.of(rt).egov
    groups = service.bulk_groups(rt.db, access.tenant_id, access.jigyosho_ids, body.filing_ids)
    unsigned = submission.missing_certificates(rt.db, egov, [fid for ids in groups.values() for fid in ids])
    if unsigned:
        raise ProblemError(409, "certificate-required", "電子署名に使う証明書が登録されていない申請があります",
                           "署名が必要な申請に使える証明書 (PKCS#12) を登録してから送信してください"
                           "。何も送信していません",
                           extra={"filings": unsigned})
    sends: list[str] = []
    for ids in groups.values():
        sends += submission.bulk_submit(rt.db, egov, ids, actor_of(p, request))
    rt.relay.notify()
    _wake(rt)
    items = []
    for fid in body.filing_ids:
        out = service.filing_state(rt.db, access.tenant_id, fid)
        items.append(BulkItemOut(filing_id=fid, status=out.status, arrive_id=out.arrive_id))
    return BulkSubmitOut(bulk_send_ids=sends, items=items)


# ---------------------------------------------------------------- e-Gov accounts


def _account_admin(access: Access) -> None:
    # An e-Gov account files for every 事業所 of the tenant: managing it needs all of them.
    if access.jigyosho_ids is not None:
        raise ProblemError(403, "forbidden", "この操作を行う権限がありません",
                           "e-Gov アカウントの連携にはすべての事業所の権限が必要です")


def account_for_update(session: Session, access: Access, account_id: str, if_match: str | None) -> EgovAccount:
    """The tenant's e-Gov account, at the version `If-Match` names (404 for another tenant's id)."""
    account = session.get(EgovAccount, account_id)
    if account is None or account.tenant_id != access.tenant_id:
        raise not_found()
    if service.expected_version(if_match) != account.version:
        raise service.STALE
    return account


@router.get("/egov-accounts", response_model=list[EgovAccountOut], responses=PROBLEMS)
def list_accounts(access: CanRead, rt: Rt) -> list[EgovAccountOut]:
    with rt.db.sessions() as session:
        rows = session.execute(select(EgovAccount).where(EgovAccount.tenant_id == access.tenant_id)
                               .order_by(EgovAccount.created_at)).scalars().all()
        return [EgovAccountOut.model_validate(a) for a in rows]


@router.post("/egov-accounts", status_code=status.HTTP_201_CREATED, response_model=LinkStarted,
             responses=PROBLEMS)
def start_account_link(body: EgovAccountCreate, access: CanWrite, rt: Rt, response: Response) -> LinkStarted:
    """Start linking an e-Gov account (OAuth authorization code + PKCE S256): open
    `authorization_url` in the user's browser; e-Gov sends it back to the redirect URI with `code`
    and `state`, which the SPA posts to `/egov-accounts/callback`. A tenant may link several
    accounts (the office's, the 事務組合 理事長's …)."""
    _account_admin(access)
    with rt.transaction() as session:
        account, url = start_link(session, context.of(rt).egov, access.tenant_id, body.label, body.login_hint)
        session.flush()
        out = EgovAccountOut.model_validate(account)
    _etag(response, out.version)
    return LinkStarted(account=out, authorization_url=url)


@router.post("/egov-accounts/callback", response_model=EgovAccountOut, responses=problem_responses(
    401, 403, 404, 422))
def finish_account_link(body: LinkCallback, access: CanWrite, rt: Rt, response: Response) -> EgovAccountOut:
    """Exchange the authorization code (with the PKCE verifier kept sealed since the start) for
    tokens, sealed at rest. An unknown or used `state` is 404."""
    _account_admin(access)
    with rt.transaction() as session:
        account = finish_link(session, context.of(rt).egov, access.tenant_id, body.code, body.state)
        session.flush()
        out = EgovAccountOut.model_validate(account)
    _etag(response, out.version)
    return out


@router.delete("/egov-accounts/{account_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(401, 403, 404, 412, 428))
def unlink_account(account_id: str, access: CanWrite, rt: Rt, if_match: IfMatch = None) -> Response:
    """Log out at e-Gov (both tokens end there) and forget the tokens."""
    _account_admin(access)
    with rt.transaction() as session:
        unlink(session, context.of(rt).egov, account_for_update(session, access, account_id, if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = ["repository", "router"]
