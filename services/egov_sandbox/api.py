"""Routes of the e-Gov sandbox, at e-Gov's own paths (EGOV-API.md §1, §2), not under /api/v1:

* `/auth/...` — the authorisation server (another host at e-Gov): auth, token, introspect, logout;
* `/shinsei/v2/...` — the 電子申請API v2 paths Roumu uses, in e-Gov's envelopes and errors;
* `/_sandbox/...` — test control (scripts, faults, the recording, reset), which e-Gov has not."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.egov_sandbox import control as ctl
from services.egov_sandbox import procedures, service
from services.egov_sandbox.egov import API_PREFIX, AUTH_PREFIX, DOC_TYPE, REALM, EgovError, egov_datetime
from services.egov_sandbox.models import SandboxCase, SandboxRequest
from services.egov_sandbox.officials import Officials
from services.egov_sandbox.schemas import (
    ARRIVE_ID,
    PROC_ID,
    AmendRequest,
    ApplyRequest,
    BulkApplyRequest,
    CompleteRequest,
    VerifyRequest,
)
from services.egov_sandbox.settings import SandboxSettings
from shared.db import Database
from shared.service_app import runtime_of

SEND_NUMBER = r"^[0-9]{18}$"


def database(request: Request) -> Database:
    return runtime_of(request).db


def config(request: Request) -> SandboxSettings:
    cfg: SandboxSettings = runtime_of(request).extras["sandbox_settings"]
    return cfg


def controls(request: Request) -> ctl.Control:
    c: ctl.Control = runtime_of(request).extras["control"]
    return c


def officials(request: Request) -> Officials:
    o: Officials = runtime_of(request).extras["officials"]
    return o


Db = Annotated[Database, Depends(database)]
Cfg = Annotated[SandboxSettings, Depends(config)]
Ctl = Annotated[ctl.Control, Depends(controls)]
Off = Annotated[Officials, Depends(officials)]


def meta(title: str, instance: str) -> dict[str, str]:
    # the spec's metadata_common requires a non-empty detail
    return {"title": title, "detail": f"{title}が正常に終了しました", "type": DOC_TYPE, "instance": instance}


# e-Gov's spec gives offset 1–9999 (a page number), but its own examples send offset=0 and e-Gov
# answers them: 0 is the first page, as there.
Offset = Annotated[int, Query(ge=0, le=9999)]


def _page(offset: int) -> int:
    return max(offset, 1)


# ---------------------------------------------------------------- authorisation server

auth_router = APIRouter(prefix=AUTH_PREFIX, tags=["e-Gov auth (sandbox)"])


def _oauth(exc: service.OAuthError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="e-Gov"'} if exc.status == 401 else None
    return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=exc.status,
                        headers=headers)


@auth_router.get("/auth", status_code=302, response_class=RedirectResponse,
                 responses={302: {"description": "redirect_uri に code, state, session_state を付けて戻る"}})
def authorize(request: Request, db: Db, cfg: Cfg) -> Response:
    """ユーザー認可. e-Gov shows login and consent screens; the sandbox consents at once, for the
    account in `login_hint` (or the default account)."""
    try:
        with db.transaction() as session:
            location = service.authorize(session, cfg, dict(request.query_params))
    except service.OAuthError as exc:
        return _oauth(exc)
    return RedirectResponse(location, status_code=302)


@auth_router.post("/token")
def token(db: Db, cfg: Cfg, grant_type: Annotated[str, Form()],
          authorization: Annotated[str | None, Header()] = None,
          code: Annotated[str | None, Form()] = None, redirect_uri: Annotated[str | None, Form()] = None,
          code_verifier: Annotated[str | None, Form()] = None,
          refresh_token: Annotated[str | None, Form()] = None) -> Response:
    """アクセストークン取得 / リフレッシュ (HTTP Basic: ソフトウェアID and APIキー)."""
    form = {k: v for k, v in {"grant_type": grant_type, "code": code, "redirect_uri": redirect_uri,
                              "code_verifier": code_verifier, "refresh_token": refresh_token}.items() if v is not None}
    try:
        service.check_client(cfg, authorization)
        with db.transaction() as session:
            body = service.token(session, cfg, form)
    except service.OAuthError as exc:
        return _oauth(exc)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@auth_router.post("/token/introspect")
def introspect(db: Db, cfg: Cfg, token: Annotated[str, Form()],
               authorization: Annotated[str | None, Header()] = None) -> Response:
    """トークンイントロスペクション (RFC 7662)."""
    try:
        service.check_client(cfg, authorization)
    except service.OAuthError as exc:
        return _oauth(exc)
    with db.sessions() as session:
        return JSONResponse(service.introspect(session, token))


@auth_router.post("/logout", status_code=204)
def logout(db: Db, cfg: Cfg, refresh_token: Annotated[str, Form()],
           authorization: Annotated[str | None, Header()] = None) -> Response:
    """ログアウト: the access token and the refresh token stop working (204)."""
    try:
        service.check_client(cfg, authorization)
        with db.transaction() as session:
            service.logout(session, refresh_token)
    except service.OAuthError as exc:
        return _oauth(exc)
    return Response(status_code=204)


# ---------------------------------------------------------------- 電子申請API v2


def bearer_account(request: Request, db: Db) -> str:
    """Every API call carries `Authorization: Bearer` with an access token the sandbox issued."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise EgovError(401, "アクセストークンが指定されていません",
                        headers={"WWW-Authenticate": f'{REALM}, error="invalid_request"'})
    with db.sessions() as session:
        account = service.account_of(session, value.strip())
    if account is None:
        raise EgovError(401, "アクセストークンが無効です",
                        headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    return account


Account = Annotated[str, Depends(bearer_account)]
router = APIRouter(prefix=API_PREFIX, tags=["e-Gov sandbox"])


def _size_check(cfg: SandboxSettings, file_data: str) -> None:
    if len(file_data) * 3 // 4 > cfg.max_upload_bytes:
        raise EgovError(413, "アップロードサイズファイル上限オーバー")


@router.get("/procedure/{proc_id}")
def procedure(proc_id: Annotated[str, Path(pattern=PROC_ID)], account: Account) -> dict[str, Any]:
    """手続選択: the skeleton ZIP a client builds its package from (kousei.xml, 申請書XML, XSL and
    check files, in a root folder named by the 手続ID); 404 for a procedure the sandbox does not know."""
    proc = procedures.find(proc_id)
    if proc is None:
        raise EgovError(404, "")
    data, info = procedures.skeleton(proc, account)
    return {"metadata": meta("手続選択", f"{API_PREFIX}/procedure/{proc_id}"),
            "results": {"file_data": base64.b64encode(data).decode(), "configuration_file_name": ["kousei.xml"],
                        "file_info": info}}


@router.post("/apply")
def apply(body: ApplyRequest, account: Account, db: Db, cfg: Cfg, control: Ctl) -> dict[str, Any]:
    """申請データ送信: check the package and issue its 到達番号."""
    _size_check(cfg, body.send_file.file_data)
    with db.transaction() as session:
        case = service.apply(session, account, body.proc_id, body.send_file.file_data, control)
        results = {"arrive_id": case.arrival_number, "arrive_date": egov_datetime(case.received_at),
                   "corporation_name": case.corporation_name, "applicant_name": case.applicant_name,
                   "apply_type": case.apply_type, "proc_name": case.proc_name, "ministry_name": "厚生労働省",
                   "submission_destination": "公共職業安定所 (sandbox)",
                   "apply_form": {"form": [{"form_name": f} for f in case.forms],
                                  "attached_file": [{"attached_file_name": a} for a in case.attachments]},
                   "apply_pay_list": []}
    arrive_id = results["arrive_id"]
    return {"metadata": meta("申請データ送信", f"{API_PREFIX}/apply"), "results": results,
            "_links": {"self": f"{API_PREFIX}/apply", "status": f"{API_PREFIX}/apply/{arrive_id}"}}


@router.post("/bulk-apply", status_code=202)
def bulk_apply(body: BulkApplyRequest, account: Account, db: Db, cfg: Cfg, control: Ctl) -> dict[str, Any]:
    """申請データbulk送信 (202): one ZIP, one folder per application; errors go to /apply/report."""
    _size_check(cfg, body.send_file.file_data)
    with db.transaction() as session:
        send = service.bulk_apply(session, account, body.send_file.file_name, body.send_file.file_data, control)
        results = {"send_number": send.send_number, "send_date": egov_datetime(send.sent_at),
                   "file_name": send.file_name, "apply_count": send.apply_count}
    n = results["send_number"]
    return {"metadata": meta("申請データbulk送信", f"{API_PREFIX}/bulk-apply"), "results": results,
            "_links": {"self": f"{API_PREFIX}/bulk-apply", "list": f"{API_PREFIX}/apply/lists?send_number={n}",
                       "report": f"{API_PREFIX}/apply/report?send_number={n}"}}


@router.post("/apply/check")
def apply_check(body: ApplyRequest, account: Account, cfg: Cfg, control: Ctl) -> dict[str, Any]:
    """形式チェック実行: the checks of /apply, nothing recorded."""
    _size_check(cfg, body.send_file.file_data)
    reports = service.check(body.send_file.file_data, body.proc_id, control)
    message = "形式チェックでエラーはありませんでした" if not reports else "形式チェックでエラーがありました"
    return {"metadata": meta("形式チェック実行", f"{API_PREFIX}/apply/check"),
            "results": {"message": message, "error_count": len(reports),
                        "report_list": [r.as_dict() for r in reports]}}


def _list_links(path: str, page: service.Page, limit: int, offset: int, query: str) -> dict[str, str]:
    """self / previous / next, with the spec's own paging parameters (limit, offset = page number)."""
    n = _page(offset)
    links = {"self": f"{path}?{query}&limit={limit}&offset={offset}"}
    if n > 1:
        links["previous"] = f"{path}?{query}&limit={limit}&offset={n - 1}"
    if n * limit < page.all_count:
        links["next"] = f"{path}?{query}&limit={limit}&offset={n + 1}"
    return links


@router.get("/apply/lists")
def apply_lists(account: Account, db: Db, off: Off,
                send_number: Annotated[str | None, Query(pattern=SEND_NUMBER)] = None,
                date_from: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
                date_to: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
                limit: Annotated[int, Query(ge=1, le=50)] = 50, offset: Offset = 1) -> dict[str, Any]:
    """申請案件一覧: by 送信番号, or by 到達日 range; `offset` is the page number (1–9999; 0 = 1)."""
    with db.transaction() as session:
        page = service.list_cases(session, account, off, send_number=send_number, date_from=date_from,
                                  date_to=date_to, limit=limit, offset=_page(offset))
    path = f"{API_PREFIX}/apply/lists"
    query = f"send_number={send_number}" if send_number else f"date_from={date_from}&date_to={date_to}"
    return {"metadata": meta("申請案件一覧取得", path),
            "resultset": {"all_count": page.all_count, "limit": limit, "offset": offset, "count": len(page.items)},
            "results": {"apply_list": page.items}, "_links": _list_links(path, page, limit, offset, query)}


@router.get("/apply/report")
def apply_report(account: Account, db: Db, send_number: Annotated[str | None, Query(pattern=SEND_NUMBER)] = None,
                 date_from: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
                 date_to: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
                 limit: Annotated[int, Query(ge=1, le=30)] = 30, offset: Offset = 1) -> dict[str, Any]:
    """エラーレポート取得 for bulk sends: by 送信番号, or by 送信日 range (newest first); per folder,
    its 到達番号 or its errors."""
    with db.sessions() as session:
        page = service.report(session, account, send_number=send_number, date_from=date_from, date_to=date_to,
                              limit=limit, offset=_page(offset))
    path = f"{API_PREFIX}/apply/report"
    query = f"send_number={send_number}" if send_number else f"date_from={date_from}&date_to={date_to}"
    return {"metadata": meta("エラーレポート取得", path),
            "resultset": {"all_count": page.all_count, "limit": limit, "offset": offset, "count": len(page.items)},
            "results": {"error_report_info": page.items}, "_links": _list_links(path, page, limit, offset, query)}


@router.get("/apply/{arrive_id}")
def get_case(arrive_id: Annotated[str, Path(pattern=ARRIVE_ID)], account: Account, db: Db,
             off: Off) -> dict[str, Any]:
    """申請案件取得: a case's status, notices and 公文書. With the script's `poll` advance, each read
    moves the case one scripted step on (for the next read)."""
    with db.transaction() as session:
        case = service.case_for(session, account, arrive_id)
        results = service.case_item(session, case)
        if case.advance == "poll":
            service.advance(session, case, off)
    instance = f"{API_PREFIX}/apply/{arrive_id}"
    return {"metadata": meta("申請案件取得", instance), "results": results, "_links": {"self": instance}}


@router.post("/apply/amend")
def apply_amend(body: AmendRequest, account: Account, db: Db, cfg: Cfg, control: Ctl) -> dict[str, Any]:
    """補正データ送信 (部分補正 only; 再提出 goes through /apply)."""
    _size_check(cfg, body.send_file.file_data)
    with db.transaction() as session:
        case = service.amend(session, account, body.arrive_id, body.send_file.file_data, control)
        results = {"arrive_id": case.arrival_number, "amend_date": egov_datetime(service._now())}
    return {"metadata": meta("補正データ送信", f"{API_PREFIX}/apply/amend"), "results": results}


@router.post("/apply/withdraw")
def apply_withdraw(body: AmendRequest, account: Account, db: Db, cfg: Cfg) -> dict[str, Any]:
    """取下げ依頼: a ZIP with kousei.xml (手続ID 9990000000000003, 取下げ依頼) and torisageirai.xml."""
    _size_check(cfg, body.send_file.file_data)
    with db.transaction() as session:
        case = service.withdraw(session, account, body.arrive_id, body.send_file.file_data)
        results = {"arrive_id": case.arrival_number, "withdraw_date": egov_datetime(service._now()),
                   "corporation_name": case.corporation_name, "applicant_name": case.applicant_name,
                   "proc_name": case.proc_name, "ministry_name": "厚生労働省",
                   "submission_destination": "公共職業安定所 (sandbox)"}
    return {"metadata": meta("取下げ依頼", f"{API_PREFIX}/apply/withdraw"), "results": results}


@router.get("/notice/lists")
def notice_lists(account: Account, db: Db,
                 date_from: Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")],
                 date_to: Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")],
                 limit: Annotated[int, Query(ge=1, le=50)] = 50, offset: Offset = 1) -> dict[str, Any]:
    """申請案件に関する通知の一覧 (発出日時の降順)."""
    with db.sessions() as session:
        page = service.notice_list(session, account, date_from, date_to, limit, _page(offset))
    path = f"{API_PREFIX}/notice/lists"
    return {"metadata": meta("申請案件に関する通知一覧", path),
            "resultset": {"all_count": page.all_count, "limit": limit, "offset": offset, "count": len(page.items)},
            "results": {"notice_list": page.items},
            "_links": _list_links(path, page, limit, offset, f"date_from={date_from}&date_to={date_to}")}


@router.get("/notice/{arrive_id}/{notice_sub_id}")
def notice(arrive_id: Annotated[str, Path(pattern=ARRIVE_ID)],
           notice_sub_id: Annotated[int, Path(ge=1, le=999)], account: Account, db: Db) -> dict[str, Any]:
    """申請案件に関する通知 (お知らせ, 補正, 取下げ …)."""
    with db.sessions() as session:
        results = service.notice_detail(session, account, arrive_id, notice_sub_id)
    instance = f"{API_PREFIX}/notice/{arrive_id}/{notice_sub_id}"
    return {"metadata": meta("申請案件に関する通知取得", instance), "results": {"notice": results}}


@router.get("/official_document/{arrive_id}/{notice_sub_id}")
def official_document(arrive_id: Annotated[str, Path(pattern=ARRIVE_ID)],
                      notice_sub_id: Annotated[int, Path(ge=1, le=999)], account: Account,
                      db: Db) -> dict[str, Any]:
    """公文書取得: a base64 ZIP and its file names."""
    with db.sessions() as session:
        doc = service.document(session, account, arrive_id, notice_sub_id)
        results = {"file_data": base64.b64encode(doc.zip_data).decode(),
                   "file_name_list": [{"file_name": n} for n in doc.file_names]}
    instance = f"{API_PREFIX}/official_document/{arrive_id}/{notice_sub_id}"
    return {"metadata": meta("公文書取得", instance), "results": results,
            "_links": {"self": instance, "complete": f"{API_PREFIX}/official_document"}}


@router.post("/official_document")
def official_document_complete(body: CompleteRequest, account: Account, db: Db) -> dict[str, Any]:
    """公文書取得完了."""
    with db.transaction() as session:
        case, doc = service.complete_document(session, account, body.arrive_id, body.notice_sub_id)
        assert doc.downloaded_at is not None
        results = {"arrive_id": case.arrival_number, "notice_sub_id": doc.notice_sub_id,
                   "proc_name": case.proc_name, "doc_title": doc.doc_title,
                   "download_date": egov_datetime(doc.downloaded_at),
                   "file_name_list": [{"file_name": n} for n in doc.file_names]}
    return {"metadata": meta("公文書取得完了", f"{API_PREFIX}/official_document"), "results": results}


@router.post("/official_document/verify")
def official_document_verify(body: VerifyRequest, account: Account, off: Off) -> dict[str, Any]:
    """公文書署名検証: the signed XML named by sig_verification_xml_file_name, inside the ZIP."""
    results = service.verify_document(body.file_data, body.sig_verification_xml_file_name, off)
    return {"metadata": meta("公文書署名検証", f"{API_PREFIX}/official_document/verify"), "results": results}


# ---------------------------------------------------------------- test control (/_sandbox)

control_router = APIRouter(prefix="/_sandbox", tags=["sandbox control (tests only)"])


class ScriptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proc_id: str | None = Field(default=None, pattern=PROC_ID, description="omitted: every procedure")
    outcome: ctl.Outcome = "complete"
    steps: list[dict[str, Any]] = Field(default_factory=list)
    advance: ctl.Advance = "poll"
    withdraw: str = Field(default="approve", pattern="^(approve|refuse)$")
    signature_required: bool = False


class FaultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ctl.FaultKind
    path: str = Field(min_length=1, examples=["/shinsei/v2/apply"])
    method: str | None = None
    count: int = Field(default=1, ge=1)
    when: ctl.When = "before"
    delay_seconds: float = Field(default=0.0, ge=0, le=60)


@control_router.post("/reset", status_code=204)
def reset(db: Db, control: Ctl) -> Response:
    """Forget everything: cases, tokens, recording, scripts, faults."""
    control.reset()
    with db.transaction() as session:
        service.reset(session)
    return Response(status_code=204)


@control_router.put("/script", status_code=204)
def set_script(body: ScriptIn, control: Ctl) -> Response:
    """How the next applications (of one procedure, or all) will go."""
    script = ctl.Script(outcome=body.outcome, steps=body.steps, advance=body.advance,
                        withdraw="refuse" if body.withdraw == "refuse" else "approve",
                        signature_required=body.signature_required)
    control.set_script(body.proc_id, script)
    return Response(status_code=204)


@control_router.post("/faults", status_code=204)
def add_fault(body: FaultIn, control: Ctl) -> Response:
    """The next `count` matching requests fail this way (`when`: before or after processing)."""
    control.add_fault(ctl.Fault(kind=body.kind, path=body.path, method=body.method, count=body.count,
                                when=body.when, delay_seconds=body.delay_seconds))
    return Response(status_code=204)


@control_router.get("/faults")
def list_faults(control: Ctl) -> list[dict[str, Any]]:
    return [f.__dict__ for f in control.faults]


@control_router.get("/requests")
def recorded(db: Db, path: str | None = None, method: str | None = None, since: int = 0) -> list[dict[str, Any]]:
    """What the sandbox received, oldest first (authorization values masked)."""
    with db.sessions() as session:
        q = select(SandboxRequest).where(SandboxRequest.seq > since).order_by(SandboxRequest.seq)
        if path:
            q = q.where(SandboxRequest.path.startswith(path[:-1]) if path.endswith("*")
                        else SandboxRequest.path == path)
        if method:
            q = q.where(SandboxRequest.method == method.upper())
        return [{"seq": r.seq, "method": r.method, "path": r.path, "query": r.query, "headers": r.headers,
                 "body": r.body, "status": r.status, "fault": r.fault,
                 "received_at": r.received_at.isoformat()} for r in session.execute(q).scalars()]


@control_router.get("/cases")
def cases(db: Db, account: str | None = None) -> list[dict[str, Any]]:
    """Every case received (all accounts, or one): what tests count arrivals with."""
    with db.sessions() as session:
        q = select(SandboxCase).order_by(SandboxCase.received_at)
        if account:
            q = q.where(SandboxCase.account == account)
        return [{"arrive_id": c.arrival_number, "proc_id": c.proc_id, "status": c.status, "account": c.account,
                 "apply_type": c.apply_type, "send_number": c.send_number, "folder_name": c.folder_name,
                 "applicant_name": c.applicant_name, "steps_left": len(c.steps)}
                for c in session.execute(q).scalars()]


@control_router.post("/cases/{arrive_id}/advance")
def advance_case(arrive_id: Annotated[str, Path(pattern=ARRIVE_ID)], db: Db, off: Off) -> dict[str, Any]:
    """Move a case one scripted step on (for `manual` scripts)."""
    with db.transaction() as session:
        case = session.execute(select(SandboxCase).where(SandboxCase.arrival_number == arrive_id)).scalar_one_or_none()
        if case is None:
            raise EgovError(404, "")
        moved = service.advance(session, case, off)
        return {"arrive_id": arrive_id, "status": case.status, "advanced": moved}


@control_router.post("/tokens/expire")
def expire_tokens(db: Db, account: str | None = None) -> dict[str, int]:
    """Expire live access tokens now (a client then has to refresh)."""
    with db.transaction() as session:
        return {"expired": service.expire_tokens(session, account)}


@control_router.get("/ca", response_class=Response)
def demo_ca(off: Off) -> Response:
    """The demo CA that signs the sandbox's 公文書 (PEM)."""
    return Response(off.ca_pem(), media_type="application/x-pem-file")
