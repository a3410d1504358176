"""Tracking cases at e-Gov: status (raw string kept, mapped to our state, unknown strings kept
without error), 補正 notices with their deadline, 公文書 (downloaded, signature checked, stored,
completed at e-Gov), and the events the owning services follow (roumu.efiling.filing.*).

Polling backs off: an unchanged case is read less and less often (up to the configured maximum);
a 503 (e-Gov's maintenance answer) or an outage pushes the next read out by the maintenance delay.
Bulk sends are read 50 cases at a time through /apply/lists?send_number=…"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.efiling import events
from services.efiling.documents import DocumentStore
from services.efiling.egov.client import EgovClient, EgovError, Unavailable
from services.efiling.egov_accounts import Egov
from services.efiling.models import Filing, FilingNotice, OfficialDocument, Submission, messaging
from services.efiling.rules.status import TRACKED, State, map_status
from services.efiling.submission import _set_state, history
from shared import xmldsig
from shared.db import Database
from shared.events import SYSTEM


def _schedule(egov: Egov, sub: Submission, changed: bool) -> None:
    s = egov.settings
    sub.poll_failures = 0 if changed else min(sub.poll_failures + 1, 20)
    delay = min(s.poll_max_interval_seconds, s.poll_interval_seconds * 2 ** sub.poll_failures)
    sub.next_poll_at = egov.clock.now() + timedelta(seconds=delay)


def apply_case(session: Session, egov: Egov, f: Filing, sub: Submission, item: dict[str, Any]) -> list[
        tuple[int, str]]:
    """Bring one filing up to date with e-Gov's view of its case. Returns the 公文書 still to fetch."""
    now = egov.clock.now()
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
        messaging.record(session, events.filing_event(events.FILING_STATUS_CHANGED, f, SYSTEM,
                                                      arrive_id=sub.arrive_id, egov_status=raw,
                                                      previous_status=before))
        if mapped == State.WITHDRAWN:
            messaging.record(session, events.filing_event(events.FILING_WITHDRAWN, f, SYSTEM,
                                                          arrive_id=sub.arrive_id, egov_status=raw))
    known = set(session.execute(select(FilingNotice.notice_sub_id).where(FilingNotice.filing_id == f.id)).scalars())
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
            messaging.record(session, events.filing_event(
                events.FILING_CORRECTION_REQUESTED, f, SYSTEM, arrive_id=sub.arrive_id, notice_sub_id=sub_id,
                correct_type=n.get("correct_type") or "部分補正", correction_deadline=notice.correct_expired_date))
    have = set(session.execute(select(OfficialDocument.notice_sub_id)
                               .where(OfficialDocument.filing_id == f.id)).scalars())
    pending = [(int(d["notice_sub_id"]), str(d.get("doc_title") or "")) for d in item.get("official_list") or []
               if d.get("notice_sub_id") and int(d["notice_sub_id"]) not in have]
    _schedule(egov, sub, changed or bool(pending))
    return pending


def _signed_xml(zip_bytes: bytes) -> tuple[str | None, bytes | None]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        for name in zf.namelist():
            if name.lower().endswith(".xml"):
                data = zf.read(name)
                if b"http://www.w3.org/2000/09/xmldsig#" in data:
                    return name, data
    return None, None


def fetch_document(db: Database, egov: Egov, client: EgovClient, store: DocumentStore, filing_id: str,
                   sub_id: int, title: str) -> str | None:
    """Download → check the signature → store → record → complete at e-Gov. Idempotent: a document
    already recorded is only completed again (a lost completion answer is repeated, harmlessly)."""
    with db.sessions() as session:
        sub = session.get(Submission, filing_id)
        assert sub is not None and sub.arrive_id
        arrive_id = sub.arrive_id
    data, names = client.official_document(arrive_id, sub_id)
    sig_name, signed = _signed_xml(data)
    valid: bool | None = None
    signer: str | None = None
    if signed is not None:
        try:
            v = xmldsig.verify_enveloped(signed)
            valid, signer = True, v.subject
        except xmldsig.SignatureError as exc:
            valid, signer = False, str(exc)[:500]
    remote: str | None = None
    if sig_name and egov.settings.verify_remotely:
        try:
            res = client.verify_document(f"{arrive_id}_{sub_id}.zip", data, sig_name)
            remote = str(((res.get("verify_result") or [{}])[0].get("official") or {}).get("validation_result"))[:256]
        except (EgovError, Unavailable) as exc:
            remote = f"verify failed: {exc}"[:256]
    with db.transaction() as session:
        f = session.get(Filing, filing_id)
        assert f is not None
        doc = session.execute(select(OfficialDocument).where(
            OfficialDocument.filing_id == filing_id, OfficialDocument.notice_sub_id == sub_id)).scalar_one_or_none()
        if doc is None:
            now = egov.clock.now()
            blob_id = store.put(session, f.tenant_id, data, "application/zip")
            doc = OfficialDocument(id=str(uuid.uuid4()), filing_id=filing_id, tenant_id=f.tenant_id,
                                   notice_sub_id=sub_id, doc_title=title[:256], file_names=names, blob_id=blob_id,
                                   sha256=hashlib.sha256(data).hexdigest(), signed=signed is not None,
                                   signature_valid=valid, signer=signer, egov_verify_result=remote, downloaded_at=now)
            session.add(doc)
            history(session, f, "official_document", now, notice_sub_id=sub_id, document_id=doc.id,
                    signature_valid=valid)
        doc_id = doc.id
    client.complete_document(arrive_id, sub_id)
    with db.transaction() as session:
        f = session.get(Filing, filing_id)
        doc = session.get(OfficialDocument, doc_id)
        assert f is not None and doc is not None
        if doc.completed_at is None:
            doc.completed_at = egov.clock.now()
            messaging.record(session, events.filing_event(
                events.FILING_OFFICIAL_DOCUMENT_RECEIVED, f, SYSTEM, arrive_id=arrive_id, notice_sub_id=sub_id,
                document_id=doc.id, signature_valid=doc.signature_valid))
    return doc_id


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
    for sub_id, title in pending:
        fetch_document(db, egov, client, store, filing_id, sub_id, title)
    return state


def _defer(db: Database, egov: Egov, filing_ids: list[str], maintenance: bool) -> None:
    s = egov.settings
    delay = s.maintenance_base_seconds if maintenance else s.poll_interval_seconds
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
        for item in items:
            fid = subs.get(str(item.get("arrive_id")))
            if fid is None:
                continue
            f, sub = session.get(Filing, fid), session.get(Submission, fid)
            assert f is not None and sub is not None
            if State(sub.state) not in TRACKED and not item.get("official_list"):
                states[fid] = sub.state
                continue
            todo += [(fid, i, t) for i, t in apply_case(session, egov, f, sub, item)]
            states[fid] = sub.state
    for fid, sub_id, title in todo:
        fetch_document(db, egov, client, store, fid, sub_id, title)
    return states


def due(db: Database, egov: Egov, limit: int = 500) -> list[Submission]:
    with db.sessions() as session:
        return list(session.execute(
            select(Submission).where(
                Submission.state.in_([s.value for s in TRACKED]),
                (Submission.next_poll_at.is_(None)) | (Submission.next_poll_at <= egov.clock.now()))
            .order_by(Submission.next_poll_at).limit(limit)).scalars())


def track_once(db: Database, egov: Egov, store: DocumentStore) -> int:
    """One pass of the poller: bulk sends by 送信番号, single filings one by one. Returns cases read."""
    subs = due(db, egov)
    by_send: dict[str, list[str]] = {}
    singles = []
    for s in subs:
        if s.send_number:
            by_send.setdefault(s.send_number, []).append(s.filing_id)
        else:
            singles.append(s.filing_id)
    for send_number in by_send:
        poll_send(db, egov, store, send_number)
    for fid in singles:
        poll_filing(db, egov, store, fid)
    return len(subs)
