"""Submitting filings to e-Gov without ever filing twice.

* Before each call the submission is written (`submitting`, attempt number, `send_started_at`) and
  committed; the account's single in-flight slot is claimed (one unconfirmed /apply per e-Gov
  account at a time), so a crash or a lost answer always leaves a row that says "maybe sent".
* An answer arrives → the 到達番号 is recorded (unique in the table: two filings can never hold one
  arrival). A 4xx → `failed`, nothing arrived. No answer, a dropped one, a 5xx or a 503 → `unknown`.
* `unknown` is reconciled before anything is sent again: /apply/lists over the dates since the
  send started, keeping arrivals after `send_started_at − skew` of the same 手続名 and 申請者 that no
  other filing holds. One → that is ours (adopted, no resend). None → it did not arrive: retry with
  backoff. More than one → `needs_review` (someone filed the same outside Roumu): a person decides;
  Roumu never guesses and never resends.
* Bulk: the whole send is written before /bulk-apply; its 送信番号 maps each folder back to its
  filing through /apply/report (`folder_name` → `arrive_id` or errors). A lost answer is reconciled
  by /apply/lists over the dates (send numbers no other bulk send holds).

What e-Gov itself guarantees here is unconfirmed (e.g. how soon /apply/lists shows an arrival);
docs/efiling.md lists it."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.efiling import certificates, events, packages
from services.efiling.egov import package as pkg
from services.efiling.egov.client import EgovClient, EgovError, OutcomeUnknown, Unauthorized, Unavailable
from services.efiling.egov_accounts import Egov
from services.efiling.models import BulkSend, EgovAccount, Filing, FilingEvent, Submission, messaging
from services.efiling.rules import procedures
from services.efiling.rules.characters import check_data
from services.efiling.rules.signing import Need, need
from services.efiling.rules.status import State, map_status
from shared.clock import JST
from shared.db import Database
from shared.errors import ProblemError, not_found
from shared.events import SYSTEM, Actor, EventEnvelope

SUBMITTABLE = {State.DRAFT, State.FAILED}


def _aad(filing_id: str) -> bytes:
    return f"efiling.submission:{filing_id}:form_data".encode()


def history(session: Session, f: Filing, kind: str, at: datetime, *, from_state: str | None = None,
            to_state: str | None = None, egov_status: str | None = None, **detail: Any) -> None:
    session.add(FilingEvent(filing_id=f.id, tenant_id=f.tenant_id, at=at, kind=kind, from_state=from_state,
                            to_state=to_state, egov_status=egov_status, detail=detail))


def char_problems(form_data: Mapping[str, Any], applicant: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Refused characters as problem+json `errors` items, field by field (no value echoed back
    except the offending character itself, which is not personal data on its own)."""
    out = []
    for p in check_data({"form_data": form_data, "applicant": applicant}):
        hint = (f"「{p.suggestion}」に置き換えてください" if p.suggestion
                else "JIS第1・第2水準の文字に置き換えてください")
        out.append({"field": p.field, "message": f"{p.position}文字目の「{p.char}」({p.codepoint}) は e-Gov で"
                                                 f"使えません: {p.reason}。{hint}", "code": "egov-character"})
    return out


def refuse_characters(form_data: Mapping[str, Any], applicant: Mapping[str, Any]) -> None:
    errors = char_problems(form_data, applicant)
    if errors:
        raise ProblemError(422, "egov-character", "e-Gov で使えない文字が含まれています",
                           "送信前に該当する項目を修正してください", errors=errors)


def _attachment_aad(filing_id: str, file_name: str) -> bytes:
    return f"efiling.submission:{filing_id}:attachment:{file_name}".encode()


def attachments_of(egov: Egov, sub: Submission) -> list[pkg.Attachment]:
    """The attachments kept with the submission (sealed at rest), as the package carries them."""
    return [pkg.Attachment(str(a["label"]), str(a["file_name"]), egov.keys.open(
        str(a["sealed"]), _attachment_aad(sub.filing_id, str(a["file_name"])))) for a in sub.attachments or []]


def create_submission(session: Session, egov: Egov, f: Filing, *, egov_account_id: str,
                      form_data: Mapping[str, Any], applicant: Mapping[str, str], sign: bool = False,
                      attachments: Sequence[pkg.Attachment] = ()) -> Submission:
    """Attach what is to be sent to a drafted filing. Characters e-Gov refuses are reported here,
    with their fields, before anything exists to send."""
    refuse_characters(form_data, applicant)
    if egov_account_id:  # "" = chosen when the filing is submitted
        account = session.get(EgovAccount, egov_account_id)
        if account is None or account.tenant_id != f.tenant_id:
            raise not_found()
    proc = procedures.find(f.procedure_code, egov.clock.now().astimezone(JST).date())
    if proc is None:
        raise ProblemError(422, "unknown-procedure", "この手続は電子申請に対応していません",
                           errors=[{"field": "body.procedure_code", "message": "未対応の手続IDです",
                                    "code": "unknown"}])
    try:  # build once now so bad form data fails at the request, not in the worker
        pkg.application(proc, form_data, applicant, now=egov.clock.now(), attachments=list(attachments))
    except pkg.PackageError as exc:
        raise ProblemError(422, "validation", "入力内容に誤りがあります", errors=[
            {"field": f"body.form_data.{exc.field}", "message": exc.message, "code": "form"}]) from exc
    sub = Submission(
        filing_id=f.id, tenant_id=f.tenant_id, egov_account_id=egov_account_id, proc_id=f.procedure_code,
        state=State.DRAFT, egov_status=None,
        form_data_sealed=egov.keys.seal(json.dumps(form_data, ensure_ascii=False).encode(), _aad(f.id)),
        applicant=dict(applicant), sign=sign, attempts=0, poll_failures=0,
        attachments=[{"label": a.label, "file_name": a.file_name, "size": len(a.data),
                      "sha256": hashlib.sha256(a.data).hexdigest(),
                      "sealed": egov.keys.seal(a.data, _attachment_aad(f.id, a.file_name))} for a in attachments],
        updated_at=egov.clock.now())
    session.add(sub)
    return sub


def form_data_of(egov: Egov, sub: Submission) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(egov.keys.open(sub.form_data_sealed, _aad(sub.filing_id)))
    return data


def _procedure(egov: Egov, sub: Submission) -> procedures.Procedure:
    proc = procedures.find(sub.proc_id, egov.clock.now().astimezone(JST).date())
    if proc is None:
        raise ProblemError(422, "unknown-procedure", "この手続は電子申請に対応していません")
    return proc


def signer_for(session: Session, egov: Egov, sub: Submission) -> pkg.Signer | None:
    """The office certificate a package of this filing is signed with (rules/signing.py), or None
    when it goes unsigned. A procedure that needs a signature without a usable certificate is a
    409 `certificate-required` / `certificate-expired`, raised before anything is sent."""
    wanted = need(_procedure(egov, sub).signature, sub.sign)
    if wanted is Need.NONE:
        return None
    if wanted is Need.IF_AVAILABLE and certificates.for_account(session, sub.tenant_id, sub.egov_account_id) is None:
        return None
    return certificates.signer(session, egov.keys, sub.tenant_id, sub.egov_account_id, egov.clock.now())


def build(egov: Egov, sub: Submission, *, apply_type: str = "新規申請", first_arrive_id: str = "",
          form_data: Mapping[str, Any] | None = None, signer: pkg.Signer | None = None) -> pkg.Built:
    proc = _procedure(egov, sub)
    return pkg.application(proc, form_data or form_data_of(egov, sub), sub.applicant, now=egov.clock.now(),
                           apply_type=apply_type, first_arrive_id=first_arrive_id, signer=signer,
                           attachments=attachments_of(egov, sub))


def _keep_package(session: Session, egov: Egov, f: Filing, kind: str, built: pkg.Built, at: datetime) -> None:
    packages.keep(session, egov.keys, f, kind, built, at)  # sealed: the 申請書XML holds the My Number


def _set_state(session: Session, f: Filing, sub: Submission, state: State, at: datetime, kind: str,
               **detail: Any) -> None:
    before = sub.state
    sub.state = state
    sub.updated_at = at
    f.status = state
    history(session, f, kind, at, from_state=before, to_state=state, egov_status=sub.egov_status, **detail)


def _load(session: Session, filing_id: str, lock: bool = False) -> tuple[Filing, Submission]:
    f = session.get(Filing, filing_id, with_for_update=lock)
    sub = session.get(Submission, filing_id, with_for_update=lock)
    if f is None or sub is None:
        raise not_found()
    return f, sub


def _arrived(session: Session, f: Filing, sub: Submission, arrive_id: str, arrive_date: str, raw_status: str,
             at: datetime, via: str, actor: Actor, out: list[EventEnvelope] | None = None) -> None:
    sub.arrive_id, sub.arrive_date = arrive_id, arrive_date
    sub.egov_status = raw_status
    sub.next_poll_at = at
    sub.last_error = None
    state = map_status(raw_status) or State.ARRIVED
    _set_state(session, f, sub, state, at, "arrived", arrive_id=arrive_id, via=via)
    done = [events.filing_event(events.FILING_SUBMITTED, f, actor, arrive_id=arrive_id, arrive_date=arrive_date,
                                attempts=sub.attempts, via=via),
            events.filing_event(events.FILING_ARRIVED, f, actor, arrive_id=arrive_id, egov_status=raw_status)]
    if out is not None:
        out += done  # recorded by the caller with the rest of its batch
    else:
        messaging.record_many(session, done)


def _release(session: Session, sub: Submission) -> None:
    session.execute(update(EgovAccount).where(EgovAccount.id == sub.egov_account_id,
                                              EgovAccount.inflight_filing_id == sub.filing_id)
                    .values(inflight_filing_id=None))


def _claim(session: Session, sub: Submission) -> bool:
    done = session.execute(update(EgovAccount).where(
        EgovAccount.id == sub.egov_account_id,
        (EgovAccount.inflight_filing_id.is_(None)) | (EgovAccount.inflight_filing_id == sub.filing_id))
        .values(inflight_filing_id=sub.filing_id).execution_options(synchronize_session=False))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def in_flight(egov: Egov, sub: Submission) -> bool:
    """A send whose answer may still come: `submitting` in a bulk send (its own reconciliation
    maps it), or a single send younger than `stale_send_seconds`. Looking such a send up in
    /apply/lists would miss it (the answer, and the case, are not there yet) and send it again."""
    if sub.state != State.SUBMITTING:
        return False
    if sub.bulk_send_id:
        return True
    stale = egov.clock.now() - timedelta(seconds=egov.settings.stale_send_seconds)
    return sub.send_started_at is not None and sub.send_started_at >= stale


def send_in_progress(state: str) -> ProblemError:
    return ProblemError(409, "send-in-progress", "この申請は送信中です",
                        f"別の要求が送信しています。結果は申請の状態で確認してください (現在の状態: {state})",
                        extra={"status": state})


@dataclass
class Outcome:
    state: str
    arrive_id: str | None
    attempts: int
    report_list: list[dict[str, Any]]


def check_before_send(db: Database, egov: Egov, filing_id: str) -> list[dict[str, Any]]:
    """The pre-send checks: characters (with fields), then e-Gov's own /apply/check."""
    with db.sessions() as session:
        _, sub = _load(session, filing_id)
        data = form_data_of(egov, sub)
        refuse_characters(data, sub.applicant)
        built = build(egov, sub, signer=signer_for(session, egov, sub))
    client = egov.client(db, sub.egov_account_id)
    result = client.check(sub.proc_id, built.file_name, built.file_data)
    return list(result.get("report_list") or []) if int(result.get("error_count", 0)) else []


def submit(db: Database, egov: Egov, filing_id: str, actor: Actor = SYSTEM, max_rounds: int | None = None) -> Outcome:
    """Send one filing: check, then write-before-call, /apply, reconcile on any unknown outcome,
    retry (with backoff) only what reconciliation shows did not arrive."""
    client = egov.client(db, _account_of(db, filing_id))
    rounds = max_rounds or egov.settings.retry_attempts
    # One session at a time: on SQLite every transaction takes the write lock (BEGIN IMMEDIATE).
    with db.sessions() as session:
        _, sub = _load(session, filing_id)
        first_state = State(sub.state)
    if first_state in SUBMITTABLE:
        report = check_before_send(db, egov, filing_id)
        if report:
            with db.transaction() as tx:
                f, sub = _load(tx, filing_id, lock=True)
                sub.last_error = json.dumps(report, ensure_ascii=False)[:4000]
                history(tx, f, "check_failed", egov.clock.now(), report_list=report)
                return Outcome(sub.state, None, sub.attempts, report)
    for round_no in range(rounds):
        with db.sessions() as session:
            _, sub = _load(session, filing_id)
            state = State(sub.state)
            if in_flight(egov, sub):
                # Another request's /apply (or a bulk send) is out: its answer settles the filing.
                raise send_in_progress(state)
            seen = sub.send_started_at
        if state in (State.UNKNOWN, State.SUBMITTING):
            found = reconcile(db, egov, client, filing_id, actor)
            if found is not None:
                with db.sessions() as session:
                    cur = _load(session, filing_id)[1]
                    if cur.state == State.DRAFT or in_flight(egov, cur):
                        # Another request or the worker reconciled it first and sends it now.
                        raise send_in_progress(cur.state)
                return found
            state = State.DRAFT  # reconcile found nothing and put it back: send again
            with db.sessions() as session:
                seen = _load(session, filing_id)[1].send_started_at
        elif state not in SUBMITTABLE:
            return _outcome(db, filing_id)
        # write before the call: under the row lock, and only from the state (and send) this
        # request saw; anything else means another request or the worker sends it, not this one
        with db.transaction() as session:
            f, sub = _load(session, filing_id, lock=True)
            if sub.state != state or sub.send_started_at != seen:
                raise send_in_progress(sub.state)
            if not _claim(session, sub):
                raise ProblemError(409, "egov-send-in-progress", "同じ e-Gov アカウントで送信中の申請があります",
                                   "しばらくしてから再度送信してください")
            now = egov.clock.now()
            built = build(egov, sub, signer=signer_for(session, egov, sub))
            sub.attempts += 1
            sub.send_started_at = started = now
            _keep_package(session, egov, f, "apply", built, now)
            _set_state(session, f, sub, State.SUBMITTING, now, "send", attempt=sub.attempts)
            proc_id = sub.proc_id
        try:
            results = client.apply(proc_id, built.file_name, built.file_data)
        except OutcomeUnknown as exc:
            with db.transaction() as session:
                f, sub = _load(session, filing_id, lock=True)
                if not _still_sending(sub, started):
                    return Outcome(sub.state, sub.arrive_id, sub.attempts, [])
                sub.last_error = exc.reason
                delay = egov.policy.delay(round_no, exc.maintenance, exc.retry_after)
                # when the worker may look it up (and, if it did not arrive, send it again)
                sub.next_poll_at = egov.clock.now() + timedelta(seconds=delay)
                _set_state(session, f, sub, State.UNKNOWN, egov.clock.now(), "outcome_unknown", reason=exc.reason)
            if round_no + 1 < rounds:
                egov.sleep(delay)
            continue
        except Unauthorized:
            # e-Gov refused the token (after a refresh) before looking at the package: nothing
            # arrived, the filing is as it was before this send.
            with db.transaction() as session:
                f, sub = _load(session, filing_id, lock=True)
                if _still_sending(sub, started):
                    _release(session, sub)
                    _set_state(session, f, sub, state, egov.clock.now(), "egov_unauthorized")
            raise
        except EgovError as exc:
            with db.transaction() as session:
                f, sub = _load(session, filing_id, lock=True)
                if not _still_sending(sub, started):
                    return Outcome(sub.state, sub.arrive_id, sub.attempts, [])
                sub.last_error = json.dumps(exc.body, ensure_ascii=False)[:4000]
                _release(session, sub)
                _set_state(session, f, sub, State.FAILED, egov.clock.now(), "refused", status=exc.status,
                           report_list=exc.report_list)
            return Outcome(State.FAILED, None, sub.attempts, exc.report_list)
        arrive_id = str(results["arrive_id"])
        with db.transaction() as session:
            f, sub = _load(session, filing_id, lock=True)
            if not _still_sending(sub, started):
                # The send outlived `stale_send_seconds` and the worker settled it meanwhile: keep
                # what it found, and leave the late answer in the history for a person to see.
                if sub.arrive_id != arrive_id:
                    history(session, f, "late_answer", egov.clock.now(), arrive_id=arrive_id)
                return Outcome(sub.state, sub.arrive_id, sub.attempts, [])
            _release(session, sub)
            _arrived(session, f, sub, arrive_id, str(results.get("arrive_date", "")), "到達",
                     egov.clock.now(), "apply", actor)
        return _outcome(db, filing_id)
    return _outcome(db, filing_id)


def _still_sending(sub: Submission, started: datetime) -> bool:
    """The answer of a send belongs to the row only while it is that send (state and start time)."""
    return sub.state == State.SUBMITTING and sub.send_started_at == started


def _account_of(db: Database, filing_id: str) -> str:
    with db.sessions() as session:
        sub = session.get(Submission, filing_id)
        if sub is None:
            raise not_found()
        return sub.egov_account_id


def _outcome(db: Database, filing_id: str) -> Outcome:
    with db.sessions() as session:
        _, sub = _load(session, filing_id)
        return Outcome(sub.state, sub.arrive_id, sub.attempts, [])


def _egov_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=JST).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _dates(since: datetime, until: datetime) -> tuple[str, str]:
    return since.astimezone(JST).date().isoformat(), until.astimezone(JST).date().isoformat()


def reconcile(db: Database, egov: Egov, client: EgovClient, filing_id: str, actor: Actor = SYSTEM) -> Outcome | None:
    """Look the case up before any resend. Returns the outcome when it is settled (arrived, or
    needs_review); None when nothing arrived and a resend is safe."""
    with db.sessions() as session:
        f, sub = _load(session, filing_id)
        proc = _procedure(egov, sub)
        assert sub.send_started_at is not None
        started = sub.send_started_at
        since = started - timedelta(seconds=egov.settings.reconcile_skew_seconds)
        applicant = str(sub.applicant.get("氏名", ""))
        account_id = sub.egov_account_id
    date_from, date_to = _dates(since, egov.clock.now() + timedelta(seconds=egov.settings.reconcile_skew_seconds))
    try:
        items = list(client.lists_by_dates(date_from, date_to))
    except Unavailable:
        return _outcome(db, filing_id)  # still unknown: try again later, never resend blind
    candidates = []
    for item in items:
        at = _egov_time(str(item.get("arrive_date", "")))
        if at is None or at < since or item.get("send_number"):
            continue
        if item.get("proc_name") != proc.proc_name or (applicant and item.get("applicant_name") != applicant):
            continue
        candidates.append(item)
    with db.transaction() as session:
        held = set(session.execute(select(Submission.arrive_id).where(
            Submission.egov_account_id == account_id,
            Submission.arrive_id.in_([str(c.get("arrive_id")) for c in candidates]))).scalars())
        mine = [c for c in candidates if str(c.get("arrive_id")) not in held]
        f, sub = _load(session, filing_id, lock=True)
        if (sub.state not in (State.UNKNOWN, State.SUBMITTING) or sub.send_started_at != started
                or in_flight(egov, sub)):
            # Someone else (the worker, another request) settled or resent it meanwhile, or the
            # send is still out: what /apply/lists shows now says nothing about it.
            return Outcome(sub.state, sub.arrive_id, sub.attempts, [])
        now = egov.clock.now()
        if len(mine) == 1:
            c = mine[0]
            _release(session, sub)
            history(session, f, "reconciled", now, found=str(c["arrive_id"]))
            _arrived(session, f, sub, str(c["arrive_id"]), str(c.get("arrive_date", "")), str(c.get("status", "")),
                     now, "reconciled", actor)
            return Outcome(sub.state, sub.arrive_id, sub.attempts, [])
        if len(mine) > 1:
            _release(session, sub)
            _set_state(session, f, sub, State.NEEDS_REVIEW, now, "reconcile_ambiguous",
                       candidates=[str(c["arrive_id"]) for c in mine])
            return Outcome(sub.state, None, sub.attempts, [])
        history(session, f, "reconciled", now, found=None)
        _set_state(session, f, sub, State.DRAFT, now, "not_arrived")
        return None


# ---------------------------------------------------------------- bulk


def bulk_submit(db: Database, egov: Egov, filing_ids: list[str], actor: Actor = SYSTEM) -> list[str]:
    """Send many filings of one e-Gov account with /bulk-apply, in chunks; returns the bulk send ids.
    Each chunk is written (filings `submitting`, the send `sending`) before its call."""
    if not filing_ids:
        return []
    account_id = _account_of(db, filing_ids[0])
    client = egov.client(db, account_id)
    sends = []
    size = egov.settings.bulk_chunk_size
    for start in range(0, len(filing_ids), size):
        chunk = filing_ids[start:start + size]
        send_id = str(uuid.uuid4())
        entries: list[tuple[str, pkg.Built]] = []
        signers: dict[tuple[Need, str], pkg.Signer | None] = {}  # by account: the key is opened once a chunk
        with db.transaction() as session:
            now = egov.clock.now()
            bulk = BulkSend(id=send_id, tenant_id="", egov_account_id=account_id, state="sending",
                            file_name=f"bulk-{now.astimezone(JST):%Y%m%d%H%M%S}-{send_id[:8]}.zip", count=0,
                            started_at=now)
            _lock_filings(session, chunk)
            for i, fid in enumerate(chunk):
                f, sub = _load(session, fid, lock=True)
                if sub.state not in SUBMITTABLE or sub.egov_account_id != account_id:
                    continue
                bulk.tenant_id = f.tenant_id
                folder = f"{i + 1:04d}{fid.replace('-', '')[:20]}"
                wanted = need(_procedure(egov, sub).signature, sub.sign)
                if wanted is Need.NONE:
                    signer = None
                else:
                    if (wanted, sub.egov_account_id) not in signers:
                        try:
                            signers[(wanted, sub.egov_account_id)] = signer_for(session, egov, sub)
                        except ProblemError:
                            signers[(wanted, sub.egov_account_id)] = None
                    signer = signers[(wanted, sub.egov_account_id)]
                    if signer is None and wanted is Need.REQUIRED:
                        continue  # left as it is (missing_certificates answers these before a bulk send)
                built = build(egov, sub, signer=signer)
                entries.append((folder, built))
                sub.attempts += 1
                sub.send_started_at = now
                sub.bulk_send_id, sub.bulk_folder = send_id, folder
                _keep_package(session, egov, f, "apply", built, now)
                _set_state(session, f, sub, State.SUBMITTING, now, "send", attempt=sub.attempts, bulk_send_id=send_id)
            bulk.count = len(entries)
            if entries:  # nothing left to send (sent meanwhile by other requests): no bulk send at all
                session.add(bulk)
        if not entries:
            continue
        data = pkg.bulk(entries)
        try:
            results = client.bulk_apply(bulk.file_name, base64.b64encode(data).decode())
        except Unauthorized:
            _bulk_not_arrived(db, egov, send_id)  # refused before e-Gov looked at it
            raise
        except OutcomeUnknown:
            _bulk_state(db, send_id, "unknown", None)
            sends.append(send_id)
            continue
        except EgovError as exc:
            _bulk_failed(db, egov, send_id, exc)
            sends.append(send_id)
            continue
        _bulk_state(db, send_id, "sent", str(results["send_number"]))
        map_bulk(db, egov, client, send_id, actor)
        sends.append(send_id)
    return sends


def _lock_filings(session: Session, filing_ids: list[str]) -> None:
    """Row locks on many filings (and their submissions) in one order, the filings' ids: two bulk
    sends, or a bulk send and its mapping, taking overlapping rows never wait for each other in a
    cycle. A single submit locks one filing, then its submission: the same order."""
    ids = sorted(set(filing_ids))
    session.execute(select(Filing.id).where(Filing.id.in_(ids)).order_by(Filing.id).with_for_update()).all()
    session.execute(select(Submission.filing_id).where(Submission.filing_id.in_(ids))
                    .order_by(Submission.filing_id).with_for_update()).all()


def missing_certificates(db: Database, egov: Egov, filing_ids: list[str]) -> list[dict[str, str]]:
    """Filings a bulk send would have to sign but cannot (no certificate, or an expired one): the
    bulk request is refused with them before anything is sent."""
    out = []
    with db.sessions() as session:
        for fid in filing_ids:
            sub = session.get(Submission, fid)
            if sub is None:
                continue
            try:
                signer_for(session, egov, sub)
            except ProblemError as exc:
                out.append({"filing_id": fid, "code": exc.slug})
    return out


def _bulk_state(db: Database, send_id: str, state: str, send_number: str | None) -> None:
    with db.transaction() as session:
        bulk = session.get(BulkSend, send_id, with_for_update=True)
        assert bulk is not None
        bulk.state = state
        if send_number:
            bulk.send_number = send_number
            session.execute(update(Submission).where(Submission.bulk_send_id == send_id)
                            .values(send_number=send_number).execution_options(synchronize_session=False))


def _bulk_failed(db: Database, egov: Egov, send_id: str, exc: EgovError) -> None:
    with db.transaction() as session:
        bulk = session.get(BulkSend, send_id)
        assert bulk is not None
        bulk.state = "failed"
        for sub in session.execute(select(Submission).where(Submission.bulk_send_id == send_id)).scalars():
            f = session.get(Filing, sub.filing_id)
            assert f is not None
            sub.last_error = json.dumps(exc.body, ensure_ascii=False)[:4000]
            _set_state(session, f, sub, State.FAILED, egov.clock.now(), "refused", status=exc.status)


def map_bulk(db: Database, egov: Egov, client: EgovClient, send_id: str, actor: Actor = SYSTEM) -> bool:
    """Map a bulk send's report back onto its filings: folder → arrive_id, or folder → errors."""
    with db.sessions() as session:
        bulk = session.get(BulkSend, send_id)
        assert bulk is not None
        send_number = bulk.send_number
    if not send_number:
        return False
    info = client.report(send_number)
    results = {str(r.get("folder_name")): r for i in info for r in (i.get("result") or [])}
    if not results:
        return False
    with db.transaction() as session:
        now = egov.clock.now()
        # The send's row first: the request that sent it and the worker may both map it; the
        # second waits here and finds it mapped (no second 到達 event, no lost-update conflict).
        bulk = session.get(BulkSend, send_id, with_for_update=True)
        assert bulk is not None
        if bulk.state == "mapped":
            return True
        ids = list(session.execute(select(Submission.filing_id).where(Submission.bulk_send_id == send_id)).scalars())
        _lock_filings(session, ids)
        subs = session.execute(select(Submission).where(Submission.bulk_send_id == send_id)).scalars().all()
        filings = {f.id: f for f in session.execute(
            select(Filing).where(Filing.id.in_([s.filing_id for s in subs]))).scalars()}
        gathered: list[EventEnvelope] = []
        for sub in subs:
            if sub.state != State.SUBMITTING:
                continue
            f = filings[sub.filing_id]
            r = results.get(sub.bulk_folder or "")
            if r is None:
                continue
            if r.get("arrive_id") and r.get("arrive_id") != "-":
                _arrived(session, f, sub, str(r["arrive_id"]), str(r.get("arrive_date", "")), "到達", now,
                         "bulk-apply", actor, gathered)
            else:
                sub.last_error = json.dumps(r.get("report_list") or [], ensure_ascii=False)[:4000]
                _set_state(session, f, sub, State.FAILED, now, "refused", report_list=r.get("report_list") or [])
        messaging.record_many(session, gathered)
        bulk.state = "mapped"
    return True


def reconcile_bulk(db: Database, egov: Egov, client: EgovClient, send_id: str, actor: Actor = SYSTEM) -> str:
    """A bulk send without an answer: find its 送信番号 among the account's cases since the send
    started (numbers no other bulk send holds). Found: map it. None: the send is safe to repeat."""
    with db.sessions() as session:
        bulk = session.get(BulkSend, send_id)
        assert bulk is not None
        since = bulk.started_at - timedelta(seconds=egov.settings.reconcile_skew_seconds)
        account_id = bulk.egov_account_id
    date_from, date_to = _dates(since, egov.clock.now())
    numbers = {str(i["send_number"]) for i in client.lists_by_dates(date_from, date_to) if i.get("send_number")}
    with db.sessions() as session:
        held = set(session.execute(select(BulkSend.send_number).where(
            BulkSend.egov_account_id == account_id, BulkSend.send_number.in_(numbers))).scalars())
    unknown = sorted(numbers - held)
    if len(unknown) == 1:
        _bulk_state(db, send_id, "sent", unknown[0])
        map_bulk(db, egov, client, send_id, actor)
        return "mapped"
    if not unknown:
        _bulk_not_arrived(db, egov, send_id)
        return "not_arrived"
    return "ambiguous"


def _bulk_not_arrived(db: Database, egov: Egov, send_id: str) -> None:
    """Nothing of this send reached e-Gov: its filings are sendable again (each on its own)."""
    with db.transaction() as session:
        bulk = session.get(BulkSend, send_id, with_for_update=True)
        assert bulk is not None
        bulk.state = "not_arrived"
        ids = list(session.execute(select(Submission.filing_id).where(Submission.bulk_send_id == send_id)).scalars())
        _lock_filings(session, ids)
        for sub in session.execute(select(Submission).where(Submission.bulk_send_id == send_id)).scalars():
            if sub.state != State.SUBMITTING:
                continue
            f = session.get(Filing, sub.filing_id)
            assert f is not None
            sub.bulk_send_id = sub.bulk_folder = None
            _set_state(session, f, sub, State.DRAFT, egov.clock.now(), "not_arrived")


def today_jst(egov: Egov) -> date:
    return egov.clock.now().astimezone(JST).date()


# ---------------------------------------------------------------- 補正 and 取下げ


def amend(db: Database, egov: Egov, filing_id: str, form_data: Mapping[str, Any], actor: Actor = SYSTEM) -> str:
    """部分補正 of a case awaiting correction: the package is a 部分補正 whose 初回受付番号 is the
    case's 到達番号 (EGOV-XML.md §1). The corrected form data replaces the old (sealed)."""
    with db.sessions() as session:
        f, sub = _load(session, filing_id)
        if sub.state != State.CORRECTION_REQUESTED or not sub.arrive_id:
            raise ProblemError(409, "not-awaiting-correction", "この申請は補正を求められていません")
        refuse_characters(form_data, sub.applicant)
        built = build(egov, sub, apply_type="部分補正", first_arrive_id=sub.arrive_id, form_data=form_data,
                      signer=signer_for(session, egov, sub))
        arrive_id, account_id = sub.arrive_id, sub.egov_account_id
    with db.transaction() as session:
        f, sub = _load(session, filing_id, lock=True)
        _keep_package(session, egov, f, "amend", built, egov.clock.now())
        history(session, f, "amend_send", egov.clock.now())
    try:
        egov.client(db, account_id).amend(arrive_id, built.file_name, built.file_data)
    except OutcomeUnknown as exc:
        # The next poll shows whether the 補正 notice was completed; only then is a resend considered.
        with db.transaction() as session:
            f, sub = _load(session, filing_id, lock=True)
            sub.last_error = exc.reason
            history(session, f, "amend_unknown", egov.clock.now(), reason=exc.reason)
        raise ProblemError(503, "egov-unavailable", "e-Gov からの応答がありませんでした",
                           "状況を確認してから再度補正してください") from exc
    except EgovError as exc:
        raise ProblemError(422, "egov-refused", "e-Gov が補正データを受け付けませんでした",
                           extra={"report_list": exc.report_list}) from exc
    with db.transaction() as session:
        f, sub = _load(session, filing_id, lock=True)
        sub.form_data_sealed = egov.keys.seal(json.dumps(form_data, ensure_ascii=False).encode(), _aad(f.id))
        sub.correction_deadline = None
        sub.next_poll_at = egov.clock.now()
        _set_state(session, f, sub, State.UNDER_REVIEW, egov.clock.now(), "amended")
        return sub.state


def withdraw(db: Database, egov: Egov, filing_id: str, reason: str, actor: Actor = SYSTEM) -> str:
    """取下げ依頼 with its own package (手続ID 9990000000000003, torisageirai.xml)."""
    with db.sessions() as session:
        f, sub = _load(session, filing_id)
        if not sub.arrive_id or State(sub.state) in (State.WITHDRAWN, State.WITHDRAWING, State.COMPLETED,
                                                      State.REJECTED):
            raise ProblemError(409, "not-withdrawable", "この申請は取下げできません")
        refuse_characters({"理由": reason}, {})
        proc = _procedure(egov, sub)
        built = pkg.withdrawal(proc, arrive_id=sub.arrive_id, applicant_name=str(sub.applicant.get("氏名", "")),
                               reason=reason, on=today_jst(egov), now=egov.clock.now(),
                               signer=signer_for(session, egov, sub))
        arrive_id, account_id = sub.arrive_id, sub.egov_account_id
    with db.transaction() as session:
        f, sub = _load(session, filing_id, lock=True)
        _keep_package(session, egov, f, "withdraw", built, egov.clock.now())
        history(session, f, "withdraw_send", egov.clock.now())
    try:
        egov.client(db, account_id).withdraw(arrive_id, built.file_name, built.file_data)
    except OutcomeUnknown as exc:
        raise ProblemError(503, "egov-unavailable", "e-Gov からの応答がありませんでした",
                           "状況を確認してから再度取下げてください") from exc
    except EgovError as exc:
        raise ProblemError(422, "egov-refused", "e-Gov が取下げ依頼を受け付けませんでした",
                           str(exc.body.get("detail") or ""), extra={"report_list": exc.report_list}) from exc
    with db.transaction() as session:
        f, sub = _load(session, filing_id, lock=True)
        sub.next_poll_at = egov.clock.now()
        _set_state(session, f, sub, State.WITHDRAWING, egov.clock.now(), "withdraw_requested")
        return sub.state
