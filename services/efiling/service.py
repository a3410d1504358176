"""Use cases of the efiling service: each runs in one unit of work (rows + events); the calls to
e-Gov go through services/efiling/submission.py, which commits around each call itself."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.efiling import events, repository, submission
from services.efiling.egov.package import Attachment
from services.efiling.egov_accounts import Egov
from services.efiling.models import (
    EgovAccount,
    Filing,
    FilingEvent,
    FilingNotice,
    FilingPackage,
    OfficialDocument,
    Submission,
    messaging,
)
from services.efiling.rules import procedures
from services.efiling.rules.status import State
from services.efiling.schemas import (
    DocumentOut,
    FilingCreate,
    FilingDetail,
    FilingOut,
    FormIn,
    HistoryEntry,
    NoticeOut,
    PackageOut,
)
from shared import paging
from shared.clock import JST
from shared.crypto import DataKeys
from shared.db import Database
from shared.errors import ProblemError, not_found
from shared.events import Actor

KEY_REUSED = ProblemError(
    422, "idempotency-key-reused", "この Idempotency-Key は別の内容の申請で使われています",
    "再送には最初と同じ内容を送るか、新しい Idempotency-Key を指定してください",
)
IF_MATCH_REQUIRED = ProblemError(428, "precondition-required", "If-Match ヘッダーが必要です",
                                 "取得時の ETag を If-Match に指定してください")
STALE = ProblemError(412, "precondition-failed", "データが他の利用者によって更新されています")
# The services that may ask for a filing with a service token.
CALLERS = frozenset({"koyo_hoken", "jimukumiai"})
SUBMIT_REQUESTED = "submit_requested"


def validation(field: str, message: str, code: str = "value_error") -> ProblemError:
    return ProblemError(422, "validation", "入力内容に誤りがあります",
                        errors=[{"field": field, "message": message, "code": code}])


def expected_version(header: str | None) -> int:
    if header is None:
        raise IF_MATCH_REQUIRED
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise STALE
    return int(value)


def _fingerprint(body: FilingCreate, keys: DataKeys | None) -> str:
    # Field order is the schema's, so the same request always hashes the same. Form data may hold
    # a My Number: keyed (HMAC), so the stored fingerprint cannot be reversed by trying numbers.
    # `sign` came later: left out when not given, so fingerprints stored before it still match.
    # `insured_person_id` (later still) names whom the caller's procedure is about: never part of it.
    left_out = {"insured_person_id"} | ({"sign"} if body.sign is None else set())
    data = body.model_dump_json(exclude=left_out).encode()
    if keys is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(keys.fingerprint_key("efiling.filing"), data, hashlib.sha256).hexdigest()


def _replay(existing: Filing, fingerprint: str) -> Filing:
    if existing.request_hash != fingerprint:
        raise KEY_REUSED
    return existing


def form_data_of(proc: procedures.Procedure, forms: list[FormIn], field: str = "body.forms") -> dict[str, Any]:
    """The API's list of forms → the package builder's {form_id: fields}, checked against the
    procedure's forms in force (id and, when given, version)."""
    known = {f.form_id: f for f in proc.forms}
    out: dict[str, Any] = {}
    for i, form in enumerate(forms):
        spec = known.get(form.form_id)
        if spec is None:
            raise validation(f"{field}.{i}.form_id", "この手続の様式ではありません", "unknown_form")
        if form.version is not None and form.version.zfill(4) != spec.form_version.zfill(4):
            raise validation(f"{field}.{i}.version", f"様式バージョンが現在のもの ({spec.form_version}) と異なります",
                             "form_version")
        if form.form_id in out:
            raise validation(f"{field}.{i}.form_id", "同じ様式が2回指定されています", "duplicate")
        out[form.form_id] = form.fields
    return out


def _default_account(session: Session, tenant_id: str) -> str:
    linked = session.execute(select(EgovAccount.id).where(
        EgovAccount.tenant_id == tenant_id, EgovAccount.state == "linked")).scalars().all()
    return linked[0] if len(linked) == 1 else ""


def linked_account(session: Session, tenant_id: str, account_id: str, field: str) -> EgovAccount:
    account = session.get(EgovAccount, account_id)
    if account is None or account.tenant_id != tenant_id:
        raise validation(field, "e-Gov アカウントが見つかりません", "not_found")
    if account.state != "linked":
        raise validation(field, "この e-Gov アカウントは連携されていません", "not_linked")
    return account


def draft_filing(session: Session, tenant_id: str, body: FilingCreate, actor: Actor,
                 idempotency_key: str | None = None, *, egov: Egov | None = None,
                 source: str | None = None, fingerprint_keys: DataKeys | None = None,
                 attachments: Sequence[Attachment] = ()) -> tuple[Filing, bool]:
    """Create a filing; with a retry key already used by this tenant, return that filing.

    With `forms` (and `applicant`) the filing holds what is to be sent: characters e-Gov refuses
    and form data the package builder cannot take are refused here, with their fields.
    Returns (filing, created). A retry never drafts — and so never files — twice."""
    keys = fingerprint_keys or (egov.keys if egov is not None else None)
    fingerprint = _fingerprint(body, keys)
    if idempotency_key is not None:
        existing = repository.filing_by_idempotency_key(session, tenant_id, idempotency_key)
        if existing is not None:
            return _replay(existing, fingerprint), False
    proc = None
    form_data: dict[str, Any] | None = None
    if body.forms is not None:
        if egov is None:
            raise RuntimeError("drafting with form data needs the e-Gov context")
        proc = procedures.find(body.procedure_code, egov.clock.now().astimezone(JST).date())
        if proc is None:
            raise ProblemError(422, "unknown-procedure", "この手続は電子申請に対応していません", errors=[
                {"field": "body.procedure_code", "message": "未対応の手続IDです", "code": "unknown"}])
        if body.applicant is None:
            raise validation("body.applicant", "申請書の内容を指定するときは申請者も指定してください", "missing")
        form_data = form_data_of(proc, body.forms)
    elif body.applicant is not None or body.egov_account_id is not None or body.attachments:
        raise validation("body.forms", "申請者や e-Gov アカウントは申請書の内容と一緒に指定してください", "missing")
    title = body.title or (proc.proc_name if proc else body.procedure_code)
    filing = Filing(
        id=str(uuid.uuid4()), tenant_id=tenant_id, jigyosho_id=body.jigyosho_id,
        procedure_code=body.procedure_code, title=title[:200], status="draft",
        idempotency_key=idempotency_key, source=source,
        # Taken from the services that own persons only: a staff user's value could misname whose number was seen.
        insured_person_id=body.insured_person_id if source else None,
        request_hash=fingerprint if idempotency_key is not None else None, created_at=datetime.now(UTC),
    )
    try:
        # A savepoint: losing the race to a concurrent retry must not undo the whole transaction.
        with session.begin_nested():
            session.add(filing)
            session.flush()
    except IntegrityError:
        # Only the retry key can collide (ids are fresh uuids): the concurrent retry won.
        winner = (repository.filing_by_idempotency_key(session, tenant_id, idempotency_key)
                  if idempotency_key is not None else None)
        if winner is None:
            raise
        return _replay(winner, fingerprint), False
    if form_data is not None:
        assert egov is not None and body.applicant is not None
        account_id = (linked_account(session, tenant_id, body.egov_account_id, "body.egov_account_id").id
                      if body.egov_account_id else _default_account(session, tenant_id))
        try:
            submission.create_submission(session, egov, filing, egov_account_id=account_id, form_data=form_data,
                                         applicant=body.applicant, sign=bool(body.sign), attachments=attachments)
        except ProblemError as exc:
            _fields_of_request(exc, [f.form_id for f in body.forms or []])
            raise
    messaging.record(session, events.filing_drafted(filing, actor))
    return filing, True


def _fields_of_request(exc: ProblemError, form_ids: list[str]) -> None:
    """The submission names fields by form id (`form_data.<form_id>.<field>`, `applicant.<field>`);
    the request has them at `body.forms.<i>.fields.<field>` and `body.applicant.<field>`."""
    for e in exc.errors or []:
        field = str(e.get("field", ""))
        if field.startswith("body.form_data.") and len(form_ids) == 1:
            e["field"] = "body.forms.0.fields." + field.removeprefix("body.form_data.")
        elif field.startswith("form_data."):
            form_id, _, rest = field.removeprefix("form_data.").partition(".")
            i = form_ids.index(form_id) if form_id in form_ids else 0
            e["field"] = f"body.forms.{i}.fields.{rest}"
        elif not field.startswith("body."):
            e["field"] = f"body.{field}"


# ---------------------------------------------------------------- reads


def filing_out(f: Filing, sub: Submission | None) -> FilingOut:
    return FilingOut(
        id=f.id, tenant_id=f.tenant_id, jigyosho_id=f.jigyosho_id, procedure_code=f.procedure_code, title=f.title,
        status=f.status, source=f.source, created_at=f.created_at, updated_at=f.updated_at or f.created_at,
        version=f.version,
        egov_account_id=(sub.egov_account_id or None) if sub else None,
        egov_status=sub.egov_status if sub else None, arrive_id=sub.arrive_id if sub else None,
        arrive_date=sub.arrive_date if sub else None, correction_deadline=sub.correction_deadline if sub else None,
        attempts=sub.attempts if sub else 0,
    )


def visible_filing(session: Session, tenant_id: str, jigyosho_ids: frozenset[str] | None, filing_id: str) -> Filing:
    """The filing, if the caller may see it: another tenant's id, or a 事業所 outside the grant,
    answers 404 exactly like a missing id."""
    f = repository.filing_in_tenant(session, tenant_id, filing_id)
    if f is None or (jigyosho_ids is not None and f.jigyosho_id not in jigyosho_ids):
        raise not_found()
    return f


def _jst_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=JST).astimezone(UTC)


def list_filings(session: Session, tenant_id: str, jigyosho_ids: frozenset[str] | None, *,
                 status: list[str] | None = None, jigyosho_id: str | None = None, procedure_code: str | None = None,
                 source: str | None = None, created_from: date | None = None, created_to: date | None = None,
                 limit: int = 50, offset: int = 0, sort: paging.Sort = "-created_at",
                 updated_since: datetime | None = None) -> tuple[list[FilingOut], int]:
    """Newest first unless `sort` says otherwise. Dates are Japanese calendar days of creation,
    both ends included; `updated_since` bounds the last change (shared/paging.py)."""
    q: Select[Any] = select(Filing).where(Filing.tenant_id == tenant_id,
                                          *paging.since(Filing.created_at, Filing.updated_at, updated_since))
    if jigyosho_ids is not None:
        q = q.where(Filing.jigyosho_id.in_(sorted(jigyosho_ids)))
    if status:
        q = q.where(Filing.status.in_(status))
    if jigyosho_id:
        q = q.where(Filing.jigyosho_id == jigyosho_id)
    if procedure_code:
        q = q.where(Filing.procedure_code == procedure_code)
    if source:
        q = q.where(Filing.source == source)
    if created_from:
        q = q.where(Filing.created_at >= _jst_start(created_from))
    if created_to:
        q = q.where(Filing.created_at < _jst_start(created_to + timedelta(days=1)))
    total = int(session.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    order = paging.order_by(sort, Filing.created_at, Filing.updated_at, Filing.id)
    rows = session.execute(q.order_by(*order).limit(limit).offset(offset)).scalars().all()
    subs = {s.filing_id: s for s in session.execute(
        select(Submission).where(Submission.filing_id.in_([f.id for f in rows]))).scalars()} if rows else {}
    return [filing_out(f, subs.get(f.id)) for f in rows], total


def _public(detail: Mapping[str, Any]) -> dict[str, Any]:
    # The retry keys of submit requests are the caller's; the rest of a history line is facts.
    return {k: v for k, v in detail.items() if k != "idempotency_key"}


def detail(session: Session, f: Filing) -> FilingDetail:
    sub = session.get(Submission, f.id)
    hist = session.execute(select(FilingEvent).where(FilingEvent.filing_id == f.id)
                           .order_by(FilingEvent.seq)).scalars().all()
    notices = session.execute(select(FilingNotice).where(FilingNotice.filing_id == f.id)
                              .order_by(FilingNotice.notice_sub_id)).scalars().all()
    pkgs = session.execute(select(FilingPackage).where(FilingPackage.filing_id == f.id)
                           .order_by(FilingPackage.created_at)).scalars().all()
    docs = session.execute(select(OfficialDocument).where(OfficialDocument.filing_id == f.id)
                           .order_by(OfficialDocument.notice_sub_id)).scalars().all()
    return FilingDetail(
        filing=filing_out(f, sub),
        history=[HistoryEntry(seq=h.seq, at=h.at, kind=h.kind, from_state=h.from_state, to_state=h.to_state,
                              egov_status=h.egov_status, detail=_public(h.detail)) for h in hist],
        notices=[NoticeOut(notice_sub_id=n.notice_sub_id, notice_type=n.notice_type, correct_type=n.correct_type,
                           title=n.title, sentence=n.sentence, correct_expired_date=n.correct_expired_date,
                           issued=n.issued, received_at=n.received_at) for n in notices],
        packages=[PackageOut(id=p.id, kind=p.kind, file_name=p.file_name, sha256=p.sha256, signed=p.signed,
                             created_at=p.created_at) for p in pkgs],
        documents=[DocumentOut(id=d.id, file_id=d.file_id, notice_sub_id=d.notice_sub_id, doc_title=d.doc_title,
                               file_names=d.file_names,
                               sha256=d.sha256, signed=d.signed, signature_valid=d.signature_valid, signer=d.signer,
                               egov_verify_result=d.egov_verify_result, downloaded_at=d.downloaded_at,
                               completed_at=d.completed_at) for d in docs],
    )


def filing_state(db: Database, tenant_id: str, filing_id: str) -> FilingOut:
    with db.sessions() as session:
        f = repository.filing_in_tenant(session, tenant_id, filing_id)
        if f is None:
            raise not_found()
        return filing_out(f, session.get(Submission, f.id))


# ---------------------------------------------------------------- submit, amend, withdraw, bulk


def _key_used(session: Session, filing_id: str, key: str) -> bool:
    rows = session.execute(select(FilingEvent.detail).where(
        FilingEvent.filing_id == filing_id, FilingEvent.kind == SUBMIT_REQUESTED)).scalars()
    return any(isinstance(d, dict) and d.get("idempotency_key") == key for d in rows)


def prepare_submit(db: Database, egov: Egov, tenant_id: str, jigyosho_ids: frozenset[str] | None, filing_id: str,
                   key: str, if_match: str | None, account_id: str | None) -> bool:
    """Everything before the send, in one transaction. Returns False for a replay (this key was
    used on this filing already: answer the filing as it is, send nothing)."""
    with db.transaction() as session:
        f = visible_filing(session, tenant_id, jigyosho_ids, filing_id)
        if _key_used(session, f.id, key):
            return False
        if expected_version(if_match) != f.version:
            raise STALE
        sub = session.get(Submission, f.id)
        if sub is None:
            raise ProblemError(409, "no-form-data", "申請書の内容がないため送信できません",
                               "申請書の内容 (forms) を指定して作成した申請だけが送信できます")
        if submission.in_flight(egov, sub):
            raise submission.send_in_progress(sub.state)
        if State(sub.state) not in (*submission.SUBMITTABLE, State.UNKNOWN):
            raise ProblemError(409, "already-submitted", "この申請は送信済みです", f"現在の状態: {sub.state}",
                               extra={"status": sub.state})
        if account_id:
            sub.egov_account_id = linked_account(session, tenant_id, account_id, "body.egov_account_id").id
        if not sub.egov_account_id:
            raise validation("body.egov_account_id", "送信に使う e-Gov アカウントを指定してください", "missing")
        # A procedure to sign without a usable certificate is refused now, before the key is spent.
        submission.signer_for(session, egov, sub)
        submission.history(session, f, SUBMIT_REQUESTED, egov.clock.now(), idempotency_key=key)
        return True


def check_writable(db: Database, tenant_id: str, jigyosho_ids: frozenset[str] | None, filing_id: str,
                   if_match: str | None) -> None:
    with db.sessions() as session:
        f = visible_filing(session, tenant_id, jigyosho_ids, filing_id)
        if expected_version(if_match) != f.version:
            raise STALE
        if session.get(Submission, f.id) is None:
            raise ProblemError(409, "no-form-data", "申請書の内容がないため操作できません")


def amend_form_data(db: Database, egov: Egov, filing_id: str, forms: list[FormIn]) -> dict[str, Any]:
    with db.sessions() as session:
        sub = session.get(Submission, filing_id)
        assert sub is not None
        proc = procedures.find(sub.proc_id, egov.clock.now().astimezone(JST).date())
    if proc is None:
        raise ProblemError(422, "unknown-procedure", "この手続は電子申請に対応していません")
    return form_data_of(proc, forms)


def bulk_groups(db: Database, tenant_id: str, jigyosho_ids: frozenset[str] | None,
                filing_ids: list[str]) -> dict[str, list[str]]:
    """The filings to send, grouped by e-Gov account (one /bulk-apply per account). Every id must
    be visible (else 404, like a single filing); those without form data or an account, or
    already sent, are left as they are."""
    groups: dict[str, list[str]] = {}
    with db.sessions() as session:
        for fid in filing_ids:
            f = visible_filing(session, tenant_id, jigyosho_ids, fid)
            sub = session.get(Submission, f.id)
            if sub is None or not sub.egov_account_id:
                continue
            if State(sub.state) in submission.SUBMITTABLE:
                groups.setdefault(sub.egov_account_id, []).append(f.id)
    return groups
