"""Use cases of the e-Gov sandbox: OAuth (code + PKCE, refresh, introspect, logout), applications
(single, bulk, amend, withdraw), scripted case progress, notices and 公文書."""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.egov_sandbox import control as ctl
from services.egov_sandbox.egov import JST, EgovError, egov_datetime
from services.egov_sandbox.models import (
    Base,
    SandboxAuthCode,
    SandboxCase,
    SandboxDocument,
    SandboxNotice,
    SandboxSend,
    SandboxToken,
)
from services.egov_sandbox.officials import Officials, official_document
from services.egov_sandbox.packages import (
    Package,
    PackageErrors,
    Report,
    bulk_folders,
    check_bulk_folder,
    check_single,
)
from services.egov_sandbox.settings import SandboxSettings
from shared import xmldsig

RECEIVED = ctl.RECEIVED


class OAuthError(Exception):
    """An OAuth-style error of the token endpoints: {error, error_description}."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)  # SQLite returns naive UTC


def _jst_date(dt: datetime) -> str:
    return dt.astimezone(JST).strftime("%Y-%m-%d")


# ---------------------------------------------------------------- OAuth


def _with_query(redirect_uri: str, params: dict[str, str]) -> str:
    return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(params)}"


def authorize(session: Session, cfg: SandboxSettings, params: dict[str, str]) -> str:
    """GET {auth}/auth: the sandbox consents at once (no login screen) and returns the redirect.

    The spec answers /auth with 302 only: once client_id and redirect_uri are good, errors go back
    to the redirect URI as `error=` (RFC 6749 §4.1.2.1); those two alone are answered 400."""
    if params.get("client_id") != cfg.client_id:
        raise OAuthError(400, "unauthorized_client", "client_id が登録されていません")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        raise OAuthError(400, "invalid_request", "redirect_uri が正しくありません")
    state = {"state": params["state"]} if "state" in params else {}
    if params.get("response_type") != "code":
        return _with_query(redirect_uri, {"error": "unsupported_response_type",
                                          "error_description": "response_type は code です", **state})
    # PKCE is optional in e-Gov's spec (the parameters are listed, not required); when a client
    # sends a challenge it must be S256 and is then enforced at /token.
    challenge = params.get("code_challenge", "")
    if (challenge or "code_challenge_method" in params) and (
            params.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128):
        return _with_query(redirect_uri, {"error": "invalid_request",
                                          "error_description": "code_challenge は S256 で 43〜128 文字です", **state})
    code = secrets.token_urlsafe(32)
    session.add(SandboxAuthCode(code_hash=_hash(code), client_id=cfg.client_id, redirect_uri=redirect_uri,
                                code_challenge=challenge, account=params.get("login_hint") or cfg.default_account,
                                expires_at=_now() + timedelta(seconds=cfg.code_ttl_seconds), used=False))
    return _with_query(redirect_uri, {"code": code, "state": params.get("state", ""),
                                      "session_state": str(uuid.uuid4())})


def check_client(cfg: SandboxSettings, authorization: str | None) -> None:
    scheme, _, value = (authorization or "").partition(" ")
    try:
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        client_id, secret = "", ""
    if scheme.lower() != "basic" or not (secrets.compare_digest(client_id, cfg.client_id)
                                         and secrets.compare_digest(secret, cfg.client_secret)):
        raise OAuthError(401, "invalid_client", "クライアント認証に失敗しました")


def _issue(session: Session, cfg: SandboxSettings, account: str, session_state: str | None = None) -> dict[str, Any]:
    access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    now = _now()
    row = SandboxToken(id=str(uuid.uuid4()), access_hash=_hash(access), refresh_hash=_hash(refresh),
                       account=account, client_id=cfg.client_id, session_state=session_state or str(uuid.uuid4()),
                       issued_at=now,
                       access_expires_at=now + timedelta(seconds=cfg.access_ttl_seconds),
                       refresh_expires_at=now + timedelta(seconds=cfg.refresh_ttl_seconds), revoked=False)
    session.add(row)
    return {"access_token": access, "expires_in": cfg.access_ttl_seconds,
            "refresh_expires_in": cfg.refresh_ttl_seconds, "refresh_token": refresh, "token_type": "Bearer",
            "id_token": secrets.token_urlsafe(24), "not-before-policy": 0, "session_state": row.session_state,
            "scope": "openid offline_access"}


def token(session: Session, cfg: SandboxSettings, form: dict[str, str]) -> dict[str, Any]:
    grant = form.get("grant_type")
    now = _now()
    if grant == "authorization_code":
        code = session.get(SandboxAuthCode, _hash(form.get("code", "")), with_for_update=True)
        if code is None or code.used or code.expires_at <= now:
            raise OAuthError(400, "invalid_grant", "認可コードが無効です")
        code.used = True
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri が一致しません")
        verifier = form.get("code_verifier")
        if code.code_challenge or verifier is not None:  # PKCE: only when the /auth request used it
            computed = base64.urlsafe_b64encode(hashlib.sha256((verifier or "").encode()).digest()).rstrip(b"=")
            if (not code.code_challenge or verifier is None or not 43 <= len(verifier) <= 128
                    or not secrets.compare_digest(computed.decode(), code.code_challenge)):
                raise OAuthError(400, "invalid_grant", "code_verifier が一致しません")
        return _issue(session, cfg, code.account)
    if grant == "refresh_token":
        row = session.execute(select(SandboxToken).where(
            SandboxToken.refresh_hash == _hash(form.get("refresh_token", ""))).with_for_update()).scalar_one_or_none()
        if row is None or row.revoked or row.refresh_expires_at <= now:
            raise OAuthError(400, "invalid_grant", "リフレッシュトークンが無効です")
        # A refresh returns a new access token and a new refresh token. The old refresh token is
        # spent; the old access token stays valid until it expires, as at e-Gov.
        row.refresh_hash = _hash("spent:" + secrets.token_urlsafe(32))
        return _issue(session, cfg, row.account, row.session_state)
    raise OAuthError(400, "unsupported_grant_type", "grant_type が正しくありません")


def _token_row(session: Session, token_value: str) -> SandboxToken | None:
    h = _hash(token_value)
    return session.execute(select(SandboxToken).where(
        (SandboxToken.access_hash == h) | (SandboxToken.refresh_hash == h))).scalar_one_or_none()


def introspect(session: Session, token_value: str) -> dict[str, Any]:
    row = _token_row(session, token_value)
    now = _now()
    if row is None or row.revoked:
        return {"active": False}
    is_access = row.access_hash == _hash(token_value)
    exp = _aware(row.access_expires_at if is_access else row.refresh_expires_at)
    if exp <= now:
        return {"active": False}
    issued = int(_aware(row.issued_at).timestamp())
    body: dict[str, Any] = {
        "active": True, "exp": int(exp.timestamp()), "iat": issued, "jti": row.id, "iss": "egov-sandbox",
        "aud": row.client_id, "sub": row.account, "typ": "Bearer" if is_access else "Refresh",
        "azp": row.client_id, "session_state": row.session_state, "scope": "openid offline_access",
        "sid": row.session_state, "client_id": row.client_id, "username": row.account}
    if is_access:
        # The user fields are for access tokens only (the spec: リフレッシュトークン指定時は返却しない);
        # fields the sandbox has no value for (email, the GビズID ones) are left out, not sent as null.
        body.update({"auth_time": issued, "egov_idp": "egov", "email_verified": False, "acr": "1"})
    return body


def logout(session: Session, refresh_token: str) -> None:
    row = session.execute(select(SandboxToken).where(
        SandboxToken.refresh_hash == _hash(refresh_token))).scalar_one_or_none()
    if row is None:
        raise OAuthError(400, "invalid_grant", "リフレッシュトークンが無効です")
    # Ends the session: its access and refresh tokens, including access tokens issued before a refresh.
    for r in session.execute(select(SandboxToken).where(SandboxToken.session_state == row.session_state)).scalars():
        r.revoked = True


def account_of(session: Session, access_token: str) -> str | None:
    row = session.execute(select(SandboxToken).where(
        SandboxToken.access_hash == _hash(access_token))).scalar_one_or_none()
    if row is None or row.revoked or row.access_expires_at <= _now():
        return None
    return row.account


def expire_tokens(session: Session, account: str | None) -> int:
    q = select(SandboxToken).where(SandboxToken.revoked.is_(False))
    if account:
        q = q.where(SandboxToken.account == account)
    rows = session.execute(q).scalars().all()
    for r in rows:
        r.access_expires_at = _now() - timedelta(seconds=1)
    return len(rows)


# ---------------------------------------------------------------- applications


def _new_number(digits: int) -> str:
    # No leading zero: a client that stores it as a number loses nothing.
    return str(10 ** (digits - 1) + secrets.randbelow(9 * 10 ** (digits - 1)))


def _new_case(session: Session, pkg: Package, account: str, script: ctl.Script, **extra: Any) -> SandboxCase:
    steps, after = script.plan()
    for _ in range(5):
        case = SandboxCase(
            id=str(uuid.uuid4()), arrival_number=_new_number(16), proc_id=pkg.proc_id, status=RECEIVED,
            received_at=_now(), account=account, apply_type=pkg.apply_type, proc_name=pkg.proc_name,
            applicant_name=pkg.applicant_name, corporation_name=pkg.corporation_name, steps=steps,
            after_amend=after, withdraw_outcome=script.withdraw, advance=script.advance, withdraw_flag=True,
            forms=pkg.forms, attachments=pkg.attachments, **extra,
        )
        try:
            # A savepoint per attempt: an arrival-number collision retries, never fails the send.
            with session.begin_nested():
                session.add(case)
                session.flush()
            return case
        except IntegrityError:
            continue
    raise EgovError(500, "到達番号を採番できませんでした")


def _check_or_raise(file_data: str, proc_id: str | None, types: tuple[str, ...], required: bool) -> Package:
    try:
        return check_single(file_data, proc_id, types, required)
    except PackageErrors as exc:
        raise EgovError(400, "申請データに誤りがあります", report_list=[r.as_dict() for r in exc.reports]) from exc


def check(file_data: str, proc_id: str, control: ctl.Control) -> list[Report]:
    """/apply/check: the format check alone; nothing is recorded as a case."""
    try:
        check_single(file_data, proc_id, ("新規申請", "再提出"), control.script_for(proc_id).signature_required)
    except PackageErrors as exc:
        return exc.reports
    return []


def apply(session: Session, account: str, proc_id: str, file_data: str, control: ctl.Control) -> SandboxCase:
    script = control.script_for(proc_id)
    pkg = _check_or_raise(file_data, proc_id, ("新規申請", "再提出"), script.signature_required)
    return _new_case(session, pkg, account, script)


def bulk_apply(session: Session, account: str, file_name: str, file_data: str, control: ctl.Control) -> SandboxSend:
    """/bulk-apply: every folder is checked; good ones arrive, bad ones go to the error report.
    e-Gov runs these checks later in a batch; the sandbox runs them now and answers 202 all the same."""
    try:
        entries, folders = bulk_folders(file_data)
    except PackageErrors as exc:
        raise EgovError(400, "一括申請データに誤りがあります",
                        extra={"error_count": 1, "error": [{"errorFolder": "-", "errorFile": "-",
                                                            "content": r.content} for r in exc.reports]}) from exc
    if len(folders) > 9999:
        raise EgovError(400, "一括申請の件数は9999件までです")
    send = SandboxSend(send_number=_new_number(18), account=account, file_name=file_name, sent_at=_now(),
                       apply_count=len(folders), arrive_count=0, error_count=0, result=[])
    session.add(send)
    results: list[dict[str, Any]] = []
    for no, folder in enumerate(folders, start=1):
        try:
            pkg = check_bulk_folder(folder, entries)
        except PackageErrors as exc:
            send.error_count += 1
            results.append({"arrive_id": "-", "arrive_date": "-", "proc_name": "-", "folder_name": folder,
                            "report_list": [r.as_dict() for r in exc.reports]})
            continue
        case = _new_case(session, pkg, account, control.script_for(pkg.proc_id), send_number=send.send_number,
                         bulk_no=no, folder_name=folder)
        send.arrive_count += 1
        results.append({"arrive_id": case.arrival_number, "arrive_date": egov_datetime(case.received_at),
                        "proc_name": case.proc_name, "folder_name": folder, "report_list": []})
    send.result = results
    return send


def case_for(session: Session, account: str, arrive_id: str) -> SandboxCase:
    case = session.execute(select(SandboxCase).where(SandboxCase.arrival_number == arrive_id,
                                                     SandboxCase.account == account)).scalar_one_or_none()
    if case is None:
        raise EgovError(404, "")
    return case


def _next_sub_id(session: Session, case: SandboxCase) -> int:
    n = session.execute(select(func.count()).select_from(SandboxNotice)
                        .where(SandboxNotice.case_id == case.id)).scalar()
    d = session.execute(select(func.count()).select_from(SandboxDocument)
                        .where(SandboxDocument.case_id == case.id)).scalar()
    return int(n or 0) + int(d or 0) + 1


def _notice(session: Session, case: SandboxCase, kind: str, title: str, sentence: str,
            correct_type: str | None = None, deadline: str | None = None) -> SandboxNotice:
    row = SandboxNotice(id=str(uuid.uuid4()), case_id=case.id, notice_sub_id=_next_sub_id(session, case),
                        notice_type=kind, correct_type=correct_type, title=title, sentence=sentence,
                        issued_at=_now(), correct_expired_date=deadline, correct_completed_at=None)
    session.add(row)
    session.flush()
    return row


def advance(session: Session, case: SandboxCase, officials: Officials) -> bool:
    """Apply the case's next scripted step; False when there is none."""
    if not case.steps:
        return False
    steps = list(case.steps)
    step = steps.pop(0)
    case.steps = steps
    case.status = str(step["status"])
    notice = step.get("notice")
    if notice == "補正":
        deadline = (datetime.now(JST).date() + timedelta(days=14)).isoformat()
        _notice(session, case, "補正", "補正のお願い", "資格取得年月日の記載を確認し、補正してください。",
                correct_type="部分補正", deadline=deadline)
    elif notice == "お知らせ":
        _notice(session, case, "お知らせ", "却下通知", "申請内容に不備があるため、却下しました。")
    elif notice == "取下げ":
        _notice(session, case, "取下げ", str(step.get("title", "取下げ承認通知")), "取下げ依頼を受け付けました。")
    if step.get("withdraw_flag") is not None:
        case.withdraw_flag = bool(step["withdraw_flag"])
    if case.status in (ctl.FINISHED, ctl.REJECTED, ctl.WITHDRAWN):
        case.withdraw_flag = False
    if step.get("document"):
        now = _now()
        data, names = official_document(
            officials, arrive_id=case.arrival_number, title="雇用保険被保険者資格取得等確認通知書",
            to_corporation=case.corporation_name, to_name=case.applicant_name, proc_name=case.proc_name,
            issued=egov_datetime(now))
        session.add(SandboxDocument(
            id=str(uuid.uuid4()), case_id=case.id, notice_sub_id=_next_sub_id(session, case),
            doc_title="雇用保険被保険者資格取得等確認通知書", file_names=names, zip_data=data, signed=True,
            allowed_at=now, download_expired_date=(now.astimezone(JST).date() + timedelta(days=90)).isoformat(),
            downloaded_at=None))
        session.flush()
    return True


def amend(session: Session, account: str, arrive_id: str, file_data: str, control: ctl.Control) -> SandboxCase:
    case = case_for(session, account, arrive_id)
    pkg = _check_or_raise(file_data, case.proc_id, ("部分補正",), control.script_for(case.proc_id).signature_required)
    if pkg.first_arrive_id != arrive_id:
        raise EgovError(400, "初回受付番号が補正対象の到達番号と一致しません",
                        report_list=[Report("初回受付番号が一致しません", file_name="kousei.xml",
                                            item="初回受付番号").as_dict()])
    pending = session.execute(select(SandboxNotice).where(
        SandboxNotice.case_id == case.id, SandboxNotice.notice_type == "補正",
        SandboxNotice.correct_completed_at.is_(None))).scalars().all()
    if not pending:
        raise EgovError(400, "この申請案件は補正の対象ではありません")
    for n in pending:
        n.correct_completed_at = _now()
    case.steps = list(case.after_amend)
    case.after_amend = []
    return case


def withdraw(session: Session, account: str, arrive_id: str, file_data: str) -> SandboxCase:
    case = case_for(session, account, arrive_id)
    try:
        pkg = check_single(file_data, case.proc_id, ("取下げ依頼",))
    except PackageErrors as exc:
        raise EgovError(400, "取下げ依頼データに誤りがあります",
                        report_list=[{k: v for k, v in r.as_dict().items() if k in ("file_name", "item", "content")}
                                     for r in exc.reports]) from exc
    if pkg.first_arrive_id != arrive_id:
        raise EgovError(400, "初回受付番号が取下げ対象の到達番号と一致しません")
    if not case.withdraw_flag:
        raise EgovError(400, "この申請案件は取下げできません")
    case.status = ctl.WITHDRAWING
    case.withdraw_flag = False
    if case.withdraw_outcome == "approve":
        case.steps = [{"status": ctl.WITHDRAWN, "notice": "取下げ", "title": "取下げ承認通知"}]
    else:
        case.steps = [{"status": ctl.REVIEWING, "notice": "取下げ", "title": "取下げ却下通知", "withdraw_flag": True}]
    return case


def notices_of(session: Session, case: SandboxCase) -> list[SandboxNotice]:
    return list(session.execute(select(SandboxNotice).where(SandboxNotice.case_id == case.id)
                                .order_by(SandboxNotice.notice_sub_id)).scalars())


def documents_of(session: Session, case: SandboxCase) -> list[SandboxDocument]:
    return list(session.execute(select(SandboxDocument).where(SandboxDocument.case_id == case.id)
                                .order_by(SandboxDocument.notice_sub_id)).scalars())


def case_item(session: Session, case: SandboxCase,
              known: tuple[list[SandboxNotice], list[SandboxDocument]] | None = None) -> dict[str, Any]:
    """A case as /apply/{arrive_id} and /apply/lists answer it (`known`: its notices and 公文書,
    read for a whole page at once by the caller)."""
    notices, docs = known if known is not None else (notices_of(session, case), documents_of(session, case))
    return {
        "status": case.status, "arrive_id": case.arrival_number, "arrive_date": egov_datetime(case.received_at),
        "corporation_name": case.corporation_name, "applicant_name": case.applicant_name,
        "proc_name": case.proc_name, "submission_destination": "公共職業安定所 (sandbox)",
        "withdraw_flag": case.withdraw_flag, "pay_status": "-", "notice_count": len(notices),
        "doc_count": len(docs), "apply_pay_count": 0,
        "notice_list": [present({
            "notice_sub_id": n.notice_sub_id, "issue_date": egov_datetime(n.issued_at),
            "notice_data_type": n.notice_type, "notice_title": n.title, "notice_sentence": n.sentence,
            "issuer_organization": "公共職業安定所 (sandbox)", "correct_expired_date": n.correct_expired_date,
            "correct_completed_date": egov_datetime(n.correct_completed_at) if n.correct_completed_at else None,
        }) for n in notices],
        "official_list": [present({
            "notice_sub_id": d.notice_sub_id, "allowed_date": egov_datetime(d.allowed_at), "doc_title": d.doc_title,
            "doc_download_expired_date": d.download_expired_date,
            "doc_download_date": egov_datetime(d.downloaded_at) if d.downloaded_at else None,
            "sign": "あり" if d.signed else "なし",
        }) for d in docs],
        "apply_pay_list": [], "applied_account": case.account,
    }


def present(item: dict[str, Any]) -> dict[str, Any]:
    """Fields the spec outputs only when they have a value are left out, never sent as null."""
    return {k: v for k, v in item.items() if v is not None}


@dataclass
class Page:
    items: list[dict[str, Any]]
    all_count: int


def _parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise EgovError(400, f"{name} は YYYY-MM-DD で指定してください") from exc


def list_cases(session: Session, account: str, officials: Officials, *, send_number: str | None,
               date_from: str | None, date_to: str | None, limit: int, offset: int) -> Page:
    """/apply/lists: by 送信番号, or by 到達日 range (Japan dates); `offset` is a page number from 1."""
    q = select(SandboxCase).where(SandboxCase.account == account)
    if send_number:
        q = q.where(SandboxCase.send_number == send_number).order_by(SandboxCase.bulk_no)
    else:
        lo, hi = _jst_range(date_from, date_to)
        q = q.where(SandboxCase.received_at >= lo, SandboxCase.received_at < hi).order_by(
            SandboxCase.received_at, SandboxCase.arrival_number)
    total = session.execute(select(func.count()).select_from(q.order_by(None).subquery())).scalar() or 0
    rows = session.execute(q.limit(limit).offset((offset - 1) * limit)).scalars().all()
    # the page's notices and 公文書 in two reads, not two per case
    ids = [c.id for c in rows]
    notices: dict[str, list[SandboxNotice]] = {i: [] for i in ids}
    docs: dict[str, list[SandboxDocument]] = {i: [] for i in ids}
    if ids:
        for n in session.execute(select(SandboxNotice).where(SandboxNotice.case_id.in_(ids))
                                 .order_by(SandboxNotice.notice_sub_id)).scalars():
            notices[n.case_id].append(n)
        for d in session.execute(select(SandboxDocument).where(SandboxDocument.case_id.in_(ids))
                                 .order_by(SandboxDocument.notice_sub_id)).scalars():
            docs[d.case_id].append(d)
    items = []
    for i, case in enumerate(rows, start=(offset - 1) * limit + 1):
        send_date = None
        if case.send_number:
            send = session.get(SandboxSend, case.send_number)
            send_date = egov_datetime(send.sent_at) if send else None
        items.append(present({"no": i, "send_number": case.send_number, "send_date": send_date,
                              **case_item(session, case, (notices[case.id], docs[case.id]))}))
        if case.advance == "poll":
            advance(session, case, officials)
    return Page(items, int(total))


def _jst_range(date_from: str | None, date_to: str | None) -> tuple[datetime, datetime]:
    if not date_from or not date_to:
        raise EgovError(400, "send_number または date_from と date_to を指定してください")
    start, end = _parse_date(date_from, "date_from"), _parse_date(date_to, "date_to")
    lo = datetime(start.year, start.month, start.day, tzinfo=JST).astimezone(UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=JST).astimezone(UTC) + timedelta(days=1)
    return lo, hi


def report(session: Session, account: str, *, send_number: str | None, date_from: str | None,
           date_to: str | None, limit: int, offset: int) -> Page:
    """/apply/report: one bulk send by its 送信番号, or every send in a 送信日 range (Japan dates),
    newest first (the spec: 送信日時の降順); `offset` is a page number from 1."""
    q = select(SandboxSend).where(SandboxSend.account == account)
    if send_number:
        q = q.where(SandboxSend.send_number == send_number)
    else:
        lo, hi = _jst_range(date_from, date_to)
        q = q.where(SandboxSend.sent_at >= lo, SandboxSend.sent_at < hi)
    q = q.order_by(SandboxSend.sent_at.desc(), SandboxSend.send_number.desc())
    total = session.execute(select(func.count()).select_from(q.order_by(None).subquery())).scalar() or 0
    items = [{"send_number": send.send_number, "send_date": egov_datetime(send.sent_at), "file_name": send.file_name,
              "apply_count": send.apply_count, "arrive_count": send.arrive_count, "error_count": send.error_count,
              "result": send.result}
             for send in session.execute(q.limit(limit).offset((offset - 1) * limit)).scalars()]
    return Page(items, int(total))


def notice_detail(session: Session, account: str, arrive_id: str, sub_id: int) -> dict[str, Any]:
    case = case_for(session, account, arrive_id)
    n = session.execute(select(SandboxNotice).where(SandboxNotice.case_id == case.id,
                                                    SandboxNotice.notice_sub_id == sub_id)).scalar_one_or_none()
    if n is None:
        raise EgovError(404, "")
    return present({
            "issuer_organization": "公共職業安定所 (sandbox)", "notice_issue_date": egov_datetime(n.issued_at),
            "notice_type": n.notice_type, "correct_type": n.correct_type,
            "correct_expired_date": n.correct_expired_date,
            "correct_completed_date": egov_datetime(n.correct_completed_at) if n.correct_completed_at else None,
            "notice_title": n.title, "notice_sentence": n.sentence, "attached_file_list": [],
            "corporation_name_list": [{"corporation_name": case.corporation_name}],
            "applicant_name_list": [{"applicant_name": case.applicant_name}], "proc_name": case.proc_name,
            "notified_account": case.account})


def notice_list(session: Session, account: str, date_from: str, date_to: str, limit: int, offset: int) -> Page:
    """/notice/lists: newest first (the spec: 発出日時の降順)."""
    lo, hi = _jst_range(date_from, date_to)
    q = (select(SandboxNotice, SandboxCase).join(SandboxCase, SandboxCase.id == SandboxNotice.case_id)
         .where(SandboxCase.account == account, SandboxNotice.issued_at >= lo, SandboxNotice.issued_at < hi)
         .order_by(SandboxNotice.issued_at.desc(), SandboxNotice.notice_sub_id.desc()))
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar() or 0
    items = [{"issuer_organization": "公共職業安定所 (sandbox)", "arrive_id": c.arrival_number,
              "notice_sub_id": n.notice_sub_id, "notice_issue_date": egov_datetime(n.issued_at),
              "type": n.notice_type, "title": n.title,
              "corporation_name_list": [{"corporation_name": c.corporation_name}],
              "applicant_name_list": [{"applicant_name": c.applicant_name}], "proc_name": c.proc_name,
              "notified_account": c.account}
             for n, c in session.execute(q.limit(limit).offset((offset - 1) * limit)).all()]
    return Page(items, int(total))


def _case_document(session: Session, account: str, arrive_id: str, sub_id: int) -> tuple[SandboxCase,
                                                                                         SandboxDocument]:
    case = case_for(session, account, arrive_id)
    doc = session.execute(select(SandboxDocument).where(SandboxDocument.case_id == case.id,
                                                        SandboxDocument.notice_sub_id == sub_id)).scalar_one_or_none()
    if doc is None:
        raise EgovError(404, "")
    return case, doc


def document(session: Session, account: str, arrive_id: str, sub_id: int) -> SandboxDocument:
    return _case_document(session, account, arrive_id, sub_id)[1]


def complete_document(session: Session, account: str, arrive_id: str, sub_id: int) -> tuple[SandboxCase,
                                                                                             SandboxDocument]:
    case, doc = _case_document(session, account, arrive_id, sub_id)  # one look-up of the case, not two
    if doc.downloaded_at is None:
        doc.downloaded_at = _now()
    return case, doc


def verify_document(file_data: str, sig_file: str, officials: Officials) -> dict[str, Any]:
    try:
        raw = base64.b64decode(file_data, validate=True)
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            names = zf.namelist()
            if sig_file not in names:
                raise EgovError(400, "指定された電子公文書が見つかりません")
            doc = zf.read(sig_file)
    except (ValueError, zipfile.BadZipFile) as exc:
        raise EgovError(400, "file_data が ZIP 形式ではありません") from exc
    try:
        v = xmldsig.verify_enveloped(doc)
        trusted = any(c == officials.ca_cert for c in _all_certs(doc))
        validation, cert_result = "正常です。", ("-" if trusted else "証明書の検証に失敗しました。")
    except xmldsig.SignatureError as exc:
        return {"sig_verification_xml_file_name": sig_file, "verify_result": [
            {"official": {"validation_result": f"異常です。{exc}"[:256], "certificate_result": "-"},
             "government": []}]}
    ca = officials.ca_cert
    return {"sig_verification_xml_file_name": sig_file, "verify_result": [{
        "official": {"validation_result": validation, "certificate_result": cert_result,
                     "certificate_count": v.certificate_count, "publisher": "日本国政府,デモ官職認証局",
                     "owner": v.subject, "publisher_dn": v.issuer, "owner_dn": v.subject,
                     "serial_number": v.serial_number, "start_date": egov_datetime(v.not_before_at),
                     "end_date": egov_datetime(v.not_after_at)},
        "government": [{"publisher_dn": ca.issuer.rfc4514_string(), "owner_dn": ca.subject.rfc4514_string(),
                        "serial_number": format(ca.serial_number, "x"),
                        "start_date": egov_datetime(ca.not_valid_before_utc),
                        "end_date": egov_datetime(ca.not_valid_after_utc)}],
    }]}


def _all_certs(doc: bytes) -> list[Any]:
    from cryptography import x509

    root = xmldsig.parse(doc)
    out = []
    for el in root.iter(f"{{{xmldsig.DSIG}}}X509Certificate"):
        out.append(x509.load_der_x509_certificate(base64.b64decode("".join((el.text or "").split()))))
    return out


def reset(session: Session) -> None:
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in ("outbox", "inbox"):
            session.execute(delete(table))


def jst_today() -> str:
    return _jst_date(_now())
