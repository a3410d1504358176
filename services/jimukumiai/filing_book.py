"""The 雇用保険被保険者関係届出事務等処理簿, built from events: koyo_hoken's procedure events
(roumu.koyo_hoken.procedure.*) and efiling's filing events (roumu.efiling.filing.*) of the filings
koyo_hoken asked for (subject `source` = koyo_hoken, `idempotency_key` = the procedure id).

Only 届出 of the association's members are kept: the event's 事業所 (`jigyosho_id`) must be the
事業所 of a member of the tenant entrusted on the event's day (Japan time); the first event of a
procedure decides, later ones update the line. The two feeds are separate consumers, so their
events may interleave: a line is created by whichever comes first, and each state is replaced only
by a newer one (`occurred_at`). Ids, kinds, dates and states only — never names or My Number."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.jimukumiai.models import FilingBookEntry, Member
from services.jimukumiai.rules.retention import CLOSED_FILING_STATES
from shared.clock import JST
from shared.events import EventEnvelope

PROCEDURE_EVENTS = "roumu.koyo_hoken.procedure.>"
FILING_EVENTS = "roumu.efiling.filing.>"
_PROCEDURE = "roumu.koyo_hoken.procedure."
_FILING = "roumu.efiling.filing."

# 届出の種類 as the book prints them (koyo_hoken's kinds).
KIND_LABELS = {
    "shikaku_shutoku": "雇用保険被保険者資格取得届",
    "shikaku_soshitsu": "雇用保険被保険者資格喪失届",
    "shikaku_soshitsu_rishoku": "雇用保険被保険者資格喪失届（離職証明書付き）",
    "tenkin": "雇用保険被保険者転勤届",
}


def _day(at: datetime) -> date:
    return at.astimezone(JST).date()


def member_for(session: Session, tenant_id: str, jigyosho_id: str, on: date) -> Member | None:
    """The member whose 事業所 this is and whose 委託 covers `on` (the latest entrusted, if several).
    The office's own clients (kind `client`, issue 25) are no 委託事業主: not in the 処理簿."""
    return session.execute(select(Member).where(
        Member.tenant_id == tenant_id, Member.kind == "entrusted", Member.jigyosho_id == jigyosho_id,
        Member.entrusted_from <= on,
        or_(Member.entrusted_until.is_(None), Member.entrusted_until >= on),
    ).order_by(Member.entrusted_from.desc(), Member.id).limit(1)).scalar_one_or_none()


def _line(session: Session, event: EventEnvelope, procedure_id: str, jigyosho_id: str) -> FilingBookEntry | None:
    assert event.tenant_id is not None
    row = session.execute(select(FilingBookEntry).where(
        FilingBookEntry.tenant_id == event.tenant_id, FilingBookEntry.procedure_id == procedure_id)
    ).scalar_one_or_none()
    if row is not None:
        return row
    day = _day(event.occurred_at)
    member = member_for(session, event.tenant_id, jigyosho_id, day)
    if member is None:
        return None
    row = FilingBookEntry(id=str(uuid.uuid4()), tenant_id=event.tenant_id, member_id=member.id,
                          jigyosho_id=jigyosho_id, procedure_id=procedure_id, received_on=day,
                          updated_at=event.occurred_at)
    session.add(row)
    return row


# Event types that name the state they move a procedure to.
_STATE_OF_TYPE = {"ready": "ready", "submitted": "submitted", "completed": "completed"}


def on_procedure_event(session: Session, event: EventEnvelope) -> None:
    """Consumer of roumu.koyo_hoken.procedure.*: 届出の種類, 被保険者 id, 受付日, 提出日, 処理日, state."""
    if not event.type.startswith(_PROCEDURE) or event.tenant_id is None:
        return
    procedure_id, jigyosho_id = event.subject.get("procedure_id"), event.subject.get("jigyosho_id")
    if not procedure_id or not jigyosho_id:
        return
    row = _line(session, event, procedure_id, jigyosho_id)
    if row is None:
        return
    day, data, what = _day(event.occurred_at), event.data, event.type.removeprefix(_PROCEDURE)
    row.kind = data.get("kind") or row.kind
    row.insured_person_id = event.subject.get("insured_person_id") or row.insured_person_id
    if data.get("filing_id"):
        row.filing_id = str(data["filing_id"])
    if what == "created":
        row.received_on = min(row.received_on, day)
    elif what == "submitted" and row.submitted_on is None:
        row.submitted_on = day
    elif what == "completed" and row.processed_on is None:
        row.processed_on = day
    # procedure.ready carries no `state` (its type says it): without this the line stayed `checked`.
    state = data.get("state") or _STATE_OF_TYPE.get(what)
    if isinstance(state, str) and (row.status_at is None or event.occurred_at >= row.status_at):
        row.status, row.status_at = state, event.occurred_at
        row.closed_on = day if state in CLOSED_FILING_STATES else None
    row.updated_at = max(row.updated_at, event.occurred_at)


def on_filing_event(session: Session, event: EventEnvelope) -> None:
    """Consumer of roumu.efiling.filing.*: the filing of a koyo_hoken procedure — e-Gov 到達番号 and
    到達日 (the 提出日), efiling's state, and the 公文書 (the 処理日 when koyo_hoken has not said)."""
    if not event.type.startswith(_FILING) or event.tenant_id is None:
        return
    s = event.subject
    procedure_id, jigyosho_id = s.get("idempotency_key"), s.get("jigyosho_id")
    if s.get("source") != "koyo_hoken" or not procedure_id or not jigyosho_id:
        return
    row = _line(session, event, procedure_id, jigyosho_id)
    if row is None:
        return
    day, data, what = _day(event.occurred_at), event.data, event.type.removeprefix(_FILING)
    row.filing_id = s.get("filing_id") or row.filing_id
    if data.get("arrive_id"):
        row.arrive_id = str(data["arrive_id"])
    if what == "submitted" and isinstance(data.get("arrive_date"), str):
        try:  # e-Gov's 到達日時 (Japan time) is the day the 届出 was filed
            row.submitted_on = date.fromisoformat(data["arrive_date"][:10])
        except ValueError:
            row.submitted_on = row.submitted_on or day
    if (what == "official_document_received" or data.get("status") == "completed") and row.processed_on is None:
        row.processed_on = day
    status = data.get("status")
    if isinstance(status, str) and (row.filing_status_at is None or event.occurred_at >= row.filing_status_at):
        row.filing_status, row.filing_status_at = status, event.occurred_at
    row.updated_at = max(row.updated_at, event.occurred_at)
