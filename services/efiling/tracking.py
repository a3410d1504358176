"""Tracking cases at e-Gov: status (raw string kept, mapped to our state, unknown strings kept
without error), 補正 notices with their deadline, 公文書 (downloaded, signature checked, stored,
completed at e-Gov), and the events the owning services follow (roumu.efiling.filing.*).

Polling backs off: an unchanged case is read less and less often (up to the configured maximum);
a 503 (e-Gov's maintenance answer) or an outage pushes the next read out by the maintenance delay.
Bulk sends are read 50 cases at a time through /apply/lists?send_number=…"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import threading
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.efiling import events
from services.efiling.documents import DocumentStore, OfficialFile, StoreError, official_file_id
from services.efiling.egov.client import EgovClient, EgovError, Unauthorized, Unavailable
from services.efiling.egov_accounts import Egov
from services.efiling.models import Filing, FilingNotice, OfficialDocument, Submission, messaging
from services.efiling.rules.status import TRACKED, State, map_status
from services.efiling.submission import _set_state, history
from shared import xmldsig
from shared.db import Database
from shared.errors import ProblemError
from shared.events import SYSTEM, EventEnvelope

log = logging.getLogger("roumu.efiling.tracking")


def _schedule(egov: Egov, sub: Submission, changed: bool) -> None:
    s = egov.settings
    sub.poll_failures = 0 if changed else min(sub.poll_failures + 1, 20)
    delay = min(s.poll_max_interval_seconds, s.poll_interval_seconds * 2 ** sub.poll_failures)
    sub.next_poll_at = egov.clock.now() + timedelta(seconds=delay)


def apply_case(session: Session, egov: Egov, f: Filing, sub: Submission, item: dict[str, Any],
               seen: tuple[set[int], set[int]] | None = None,
               out: list[EventEnvelope] | None = None) -> list[tuple[int, str]]:
    """Bring one filing up to date with e-Gov's view of its case. Returns the 公文書 still to fetch.
    `out`: events are gathered there (the caller records a whole page in one statement) instead
    of being recorded one by one."""
    now = egov.clock.now()

    def emit(event: EventEnvelope) -> None:
        if out is not None:
            out.append(event)
        else:
            messaging.record(session, event)

    raw = str(item.get("status") or "")
    changed = raw != (sub.egov_status or "")
    if changed:
        before = State(sub.state)
        sub.egov_status = raw
        mapped = map_status(raw)
        if mapped is None:
            # An unknown string: keep it and our state, never fail (EGOV-API.md §4).
            history(session, f, "egov_status", now, from_state=before, to_state=before, egov_status=raw, known=False)
        elif mapped != before:
            _set_state(session, f, sub, mapped, now, "egov_status")
        emit(events.filing_event(events.FILING_STATUS_CHANGED, f, SYSTEM, arrive_id=sub.arrive_id,
                                 egov_status=raw, previous_status=before))
        if mapped == State.WITHDRAWN:
            emit(events.filing_event(events.FILING_WITHDRAWN, f, SYSTEM, arrive_id=sub.arrive_id, egov_status=raw))
    # `seen`: the filing's known notices and completed 公文書, read for a whole page by the caller
    known, have = seen if seen is not None else _seen(session, [f.id]).get(f.id, (set(), set()))
    for n in item.get("notice_list") or []:
        sub_id = int(n.get("notice_sub_id") or 0)
        if not sub_id or sub_id in known:
            continue
        kind = str(n.get("notice_data_type") or "")
        notice = FilingNotice(id=str(uuid.uuid4()), filing_id=f.id, tenant_id=f.tenant_id, notice_sub_id=sub_id,
                              notice_type=kind[:20], correct_type=None, title=str(n.get("notice_title") or "")[:256],
                              sentence=str(n.get("notice_sentence") or ""),
                              correct_expired_date=n.get("correct_expired_date"), issued=n.get("issue_date"),
                              received_at=now)
        session.add(notice)
        history(session, f, "notice", now, notice_sub_id=sub_id, notice_type=kind,
                correct_expired_date=notice.correct_expired_date)
        if kind == "補正" and not n.get("correct_completed_date"):
            sub.correction_deadline = notice.correct_expired_date
            emit(events.filing_event(
                events.FILING_CORRECTION_REQUESTED, f, SYSTEM, arrive_id=sub.arrive_id, notice_sub_id=sub_id,
                correct_type=n.get("correct_type") or "部分補正", correction_deadline=notice.correct_expired_date))
    pending = [(int(d["notice_sub_id"]), str(d.get("doc_title") or "")) for d in item.get("official_list") or []
               if d.get("notice_sub_id") and int(d["notice_sub_id"]) not in have]
    _schedule(egov, sub, changed or bool(pending))
    return pending


def _seen(session: Session, filing_ids: list[str]) -> dict[str, tuple[set[int], set[int]]]:
    """Per filing: notice sub ids already stored, and 公文書 recorded *and* completed (one recorded
    but not completed — a lost completion — is asked again)."""
    out: dict[str, tuple[set[int], set[int]]] = {fid: (set(), set()) for fid in filing_ids}
    for fid, sub_id in session.execute(select(FilingNotice.filing_id, FilingNotice.notice_sub_id)
                                       .where(FilingNotice.filing_id.in_(filing_ids))):
        out[fid][0].add(sub_id)
    for fid, sub_id in session.execute(select(OfficialDocument.filing_id, OfficialDocument.notice_sub_id).where(
            OfficialDocument.filing_id.in_(filing_ids), OfficialDocument.completed_at.is_not(None))):
        out[fid][1].add(sub_id)
    return out


def _signed_xml(zip_bytes: bytes) -> tuple[str | None, bytes | None]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        for name in zf.namelist():
            if name.lower().endswith(".xml"):
                data = zf.read(name)
                if b"http://www.w3.org/2000/09/xmldsig#" in data:
                    return name, data
    return None, None


@dataclass
class _Fetched:
    filing_id: str
    sub_id: int
    title: str
    arrive_id: str
    tenant_id: str = ""
    jigyosho_id: str = ""
    procedure_ref: str | None = None
    data: bytes = b""
    names: list[str] = field(default_factory=list)
    signed: bool = False
    valid: bool | None = None
    signer: str | None = None
    remote: str | None = None
    doc_id: str | None = None
    file_id: str | None = None
    completed: bool = False


def _download(egov: Egov, client: EgovClient, store: DocumentStore, item: _Fetched) -> _Fetched:
    """Network and CPU only (no database): download, check the signature locally, ask e-Gov's
    verify, store the ZIP through the files service (its id from the 公文書's identity: a repeat
    stores nothing twice). The local check is integrity against the embedded certificate; whether that
    certificate is a trusted GPKI official's is e-Gov's answer (EGOV-XML.md §5: no client checks
    GPKI trust locally), so the remote verify stays on unless configured off."""
    item.data, item.names = client.official_document(item.arrive_id, item.sub_id)
    sig_name, signed = _signed_xml(item.data)
    item.signed = signed is not None
    if signed is not None:
        try:
            v = xmldsig.verify_enveloped(signed)
            item.valid, item.signer = True, v.subject
        except xmldsig.SignatureError as exc:
            item.valid, item.signer = False, str(exc)[:500]
    if sig_name and egov.settings.verify_remotely:
        try:
            res = client.verify_document(f"{item.arrive_id}_{item.sub_id}.zip", item.data, sig_name)
            item.remote = str(((res.get("verify_result") or [{}])[0].get("official") or {})
                              .get("validation_result"))[:256]
        except (EgovError, Unauthorized, Unavailable) as exc:
            item.remote = f"verify failed: {exc}"[:256]
    item.file_id = store.put(OfficialFile(
        tenant_id=item.tenant_id, file_id=official_file_id(item.tenant_id, item.filing_id, item.sub_id),
        name=f"{item.arrive_id}_{item.sub_id}.zip", data=item.data, jigyosho_id=item.jigyosho_id,
        filing_id=item.filing_id, procedure_id=item.procedure_ref))
    return item


def _complete(client: EgovClient, item: _Fetched) -> _Fetched:
    try:
        client.complete_document(item.arrive_id, item.sub_id)
        item.completed = True
    except (EgovError, Unauthorized, Unavailable) as exc:
        log.warning("公文書 completion failed for %s/%s: %s (retried on the next poll)", item.arrive_id,
                    item.sub_id, exc)
    return item


def _parallel(fn: Callable[[_Fetched], _Fetched], items: list[_Fetched], workers: int) -> list[_Fetched]:
    """Run `fn` over the items with at most `workers` in flight; an item that fails is dropped
    (logged) and picked up again by the next poll, since nothing was recorded for it."""
    if workers <= 1 or len(items) <= 1:
        out = []
        for it in items:
            try:
                out.append(fn(it))
            except (EgovError, Unauthorized, Unavailable, StoreError) as exc:
                log.warning("公文書 %s/%s not fetched: %s", it.arrive_id, it.sub_id, exc)
        return out
    done: list[_Fetched] = []
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="efiling-docs") as pool:
        futures = [pool.submit(fn, it) for it in items]
        for it, fut in zip(items, futures, strict=True):
            try:
                done.append(fut.result())
            except (EgovError, Unauthorized, Unavailable, StoreError) as exc:
                log.warning("公文書 %s/%s not fetched: %s", it.arrive_id, it.sub_id, exc)
    return done


def fetch_documents(db: Database, egov: Egov, client: EgovClient, store: DocumentStore,
                    todo: list[tuple[str, int, str]]) -> list[str]:
    """Download → check the signatures → store (files service) → record → complete at e-Gov, for
    many 公文書 of one account: the downloads (with their storing) and completions run
    `ROUMU_EFILING_DOCUMENT_CONCURRENCY` at a time, the records are written in one transaction
    per step. Idempotent: a document already recorded is only completed again (a lost completion
    answer is repeated, harmlessly); a document stored but not recorded (a crash in between) is
    stored again under the same file id, which the files service answers with the file it holds;
    the completion is asked only after the bytes are stored and recorded."""
    if not todo:
        return []
    with db.sessions() as session:
        fids = sorted({fid for fid, _, _ in todo})
        arrive = {s.filing_id: s.arrive_id for s in session.execute(
            select(Submission).where(Submission.filing_id.in_(fids))).scalars()}
        owners = {f.id: (f.tenant_id, f.jigyosho_id, f.idempotency_key if f.source else None)
                  for f in session.execute(select(Filing).where(Filing.id.in_(fids))).scalars()}
        recorded = {(d.filing_id, d.notice_sub_id): d for d in session.execute(
            select(OfficialDocument).where(OfficialDocument.filing_id.in_(fids))).scalars()}
    items: list[_Fetched] = []
    again: list[_Fetched] = []
    for fid, sub_id, title in todo:
        if not arrive.get(fid):
            continue
        it = _Fetched(fid, sub_id, title, str(arrive[fid]), *owners[fid])
        doc = recorded.get((fid, sub_id))
        if doc is None:
            items.append(it)
        elif doc.completed_at is None:
            it.doc_id = doc.id
            again.append(it)
    workers = egov.settings.document_concurrency
    fetched = _parallel(lambda it: _download(egov, client, store, it), items, workers)
    if fetched:
        with db.transaction() as session:
            now = egov.clock.now()
            filings = {f.id: f for f in session.execute(
                select(Filing).where(Filing.id.in_(sorted({it.filing_id for it in fetched})))).scalars()}
            existing = {(d.filing_id, d.notice_sub_id): d.id for d in session.execute(
                select(OfficialDocument).where(OfficialDocument.filing_id.in_(sorted(filings)))).scalars()}
            for it in fetched:
                f = filings[it.filing_id]
                if (it.filing_id, it.sub_id) in existing:  # recorded by another poller meanwhile
                    it.doc_id = existing[(it.filing_id, it.sub_id)]
                    continue
                doc = OfficialDocument(id=str(uuid.uuid4()), filing_id=it.filing_id, tenant_id=f.tenant_id,
                                       notice_sub_id=it.sub_id, doc_title=it.title[:256], file_names=it.names,
                                       file_id=it.file_id, blob_id=None, sha256=hashlib.sha256(it.data).hexdigest(),
                                       signed=it.signed, signature_valid=it.valid, signer=it.signer,
                                       egov_verify_result=it.remote, downloaded_at=now)
                session.add(doc)
                history(session, f, "official_document", now, notice_sub_id=it.sub_id, document_id=doc.id,
                        file_id=it.file_id, signature_valid=it.valid)
                it.doc_id = doc.id
    completed = [it for it in _parallel(lambda it: _complete(client, it), [*fetched, *again], workers)
                 if it.completed and it.doc_id]
    if completed:
        with db.transaction() as session:
            now = egov.clock.now()
            docs = {d.id: d for d in session.execute(select(OfficialDocument).where(
                OfficialDocument.id.in_([it.doc_id for it in completed]))).scalars()}
            filings = {f.id: f for f in session.execute(
                select(Filing).where(Filing.id.in_(sorted({d.filing_id for d in docs.values()})))).scalars()}
            received = []
            for d in docs.values():
                if d.completed_at is not None:
                    continue
                d.completed_at = now
                received.append(events.filing_event(
                    events.FILING_OFFICIAL_DOCUMENT_RECEIVED, filings[d.filing_id], SYSTEM,
                    arrive_id=arrive[d.filing_id], notice_sub_id=d.notice_sub_id, document_id=d.id,
                    signature_valid=d.signature_valid))
            messaging.record_many(session, received)
    return [it.doc_id for it in completed if it.doc_id]


def fetch_document(db: Database, egov: Egov, client: EgovClient, store: DocumentStore, filing_id: str,
                   sub_id: int, title: str) -> str | None:
    """One 公文書 (see fetch_documents)."""
    done = fetch_documents(db, egov, client, store, [(filing_id, sub_id, title)])
    return done[0] if done else None


def poll_filing(db: Database, egov: Egov, store: DocumentStore, filing_id: str) -> str:
    """Read one case, apply it, fetch its new 公文書. Returns the filing's state."""
    with db.sessions() as session:
        sub = session.get(Submission, filing_id)
        if sub is None or not sub.arrive_id:
            return sub.state if sub else ""
        account_id, arrive_id = sub.egov_account_id, sub.arrive_id
    client = egov.client(db, account_id)
    try:
        item = client.case(arrive_id)
    except Unavailable as exc:
        _defer(db, egov, [filing_id], exc.maintenance)
        return ""
    with db.transaction() as session:
        f, sub2 = session.get(Filing, filing_id), session.get(Submission, filing_id)
        assert f is not None and sub2 is not None
        pending = apply_case(session, egov, f, sub2, item)
        state = sub2.state
        _settle(sub2, pending)
    done = fetch_documents(db, egov, client, store, [(filing_id, sub_id, title) for sub_id, title in pending])
    if pending and len(done) == len(pending) and State(state) not in TRACKED:
        with db.transaction() as session:
            sub3 = session.get(Submission, filing_id)
            if sub3 is not None:
                _settle(sub3, [])
    return state


def _defer(db: Database, egov: Egov, filing_ids: list[str], maintenance: bool, seconds: float | None = None) -> None:
    s = egov.settings
    delay = seconds if seconds is not None else (s.maintenance_base_seconds if maintenance
                                                 else s.poll_interval_seconds)
    with db.transaction() as session:
        for fid in filing_ids:
            sub = session.get(Submission, fid)
            if sub is not None:
                sub.next_poll_at = egov.clock.now() + timedelta(seconds=delay)


def poll_send(db: Database, egov: Egov, store: DocumentStore, send_number: str) -> dict[str, str]:
    """Read every case of a bulk send through /apply/lists (50 a page) and apply each."""
    with db.sessions() as session:
        subs = {s.arrive_id: s.filing_id for s in session.execute(
            select(Submission).where(Submission.send_number == send_number)).scalars() if s.arrive_id}
        any_sub = session.execute(select(Submission).where(Submission.send_number == send_number)).scalars().first()
        if any_sub is None:
            return {}
        account_id = any_sub.egov_account_id
    client = egov.client(db, account_id)
    try:
        items = list(client.lists_by_send_number(send_number))
    except Unavailable as exc:
        _defer(db, egov, list(subs.values()), exc.maintenance)
        return {}
    todo: list[tuple[str, int, str]] = []
    states: dict[str, str] = {}
    with db.transaction() as session:
        page = {str(item.get("arrive_id")): item for item in items if str(item.get("arrive_id")) in subs}
        fids = [subs[a] for a in page]
        # one read per table for the whole send, not per case
        filings = {f.id: f for f in session.execute(select(Filing).where(Filing.id.in_(fids))).scalars()}
        rows = {s.filing_id: s for s in session.execute(
            select(Submission).where(Submission.filing_id.in_(fids))).scalars()}
        seen = _seen(session, fids)
        gathered: list[EventEnvelope] = []
        for arrive_id, item in page.items():
            fid = subs[arrive_id]
            f, sub = filings[fid], rows[fid]
            if State(sub.state) not in TRACKED and not item.get("official_list"):
                _settle(sub, [])
                states[fid] = sub.state
                continue
            pending = apply_case(session, egov, f, sub, item, seen[fid], gathered)
            _settle(sub, pending)
            todo += [(fid, i, t) for i, t in pending]
            states[fid] = sub.state
        messaging.record_many(session, gathered)  # in list order: per filing as they happened
    fetch_documents(db, egov, client, store, todo)
    return states


def _settle(sub: Submission, pending: list[tuple[int, str]]) -> None:
    """A case past tracking (手続終了) stays due until a poll finds none of its 公文書 left to
    fetch: the state is written before the documents are downloaded, and a failure in between (the
    database or e-Gov gone, a crash; seen in the fault run) must not leave them unfetched forever."""
    if State(sub.state) not in TRACKED and not pending:
        sub.next_poll_at = None


def due(db: Database, egov: Egov, limit: int = 500) -> list[Submission]:
    now = egov.clock.now()
    with db.sessions() as session:
        return list(session.execute(
            select(Submission).where(
                (Submission.state.in_([s.value for s in TRACKED])
                 & ((Submission.next_poll_at.is_(None)) | (Submission.next_poll_at <= now)))
                | ((Submission.state == State.COMPLETED.value) & (Submission.next_poll_at <= now)))
            .order_by(Submission.next_poll_at).limit(limit)).scalars())


def track_once(db: Database, egov: Egov, store: DocumentStore, stop: threading.Event | None = None) -> int:
    """One pass of the poller: bulk sends by 送信番号, single filings one by one. Returns cases read.
    `stop` ends the pass early (between cases) when the app shuts down."""
    subs = due(db, egov)
    by_send: dict[str, list[str]] = {}
    singles = []
    for s in subs:
        if s.send_number:
            by_send.setdefault(s.send_number, []).append(s.filing_id)
        else:
            singles.append(s.filing_id)
    for send_number, fids in by_send.items():
        if stop is not None and stop.is_set():
            return len(subs)
        _guarded(db, egov, fids, functools.partial(poll_send, db, egov, store, send_number))
    for fid in singles:
        if stop is not None and stop.is_set():
            break
        _guarded(db, egov, [fid], functools.partial(poll_filing, db, egov, store, fid))
    return len(subs)


def _guarded(db: Database, egov: Egov, filing_ids: list[str], poll: Callable[[], object]) -> None:
    """One send's or filing's poll; its failure never stops the pass. An account that needs
    linking again is not asked for a while (the longest poll interval); anything else is tried
    again at the next interval."""
    try:
        poll()
    except ProblemError as exc:
        log.warning("tracking of %d filing(s) deferred: %s", len(filing_ids), exc.title)
        _defer(db, egov, filing_ids, False, egov.settings.poll_max_interval_seconds)
    except Exception:
        log.exception("tracking of %d filing(s) failed", len(filing_ids))
        _defer(db, egov, filing_ids, False)
