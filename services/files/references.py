"""The procedures and filings a file may be attached to (issue 18 item 11).

koyo_hoken owns procedures and efiling owns filings; each publishes the new object with its 事業所
(`roumu.koyo_hoken.procedure.created`, `roumu.efiling.filing.drafted`), and this service keeps the
pair in `attachable_refs`. An upload by a user or partner that names a procedure or a filing must
name one of its tenant in the file's own 事業所 — which the caller was already checked to write —
else 404, the answer for an id that does not exist (so it tells nothing of another 事業所).

Like the 事業所 master (shared/jigyosho_directory.py), a request never waits for the feed: a
procedure created a moment ago may answer 404 until its event arrived, and the client retries.
Services (efiling storing a 公文書 under its filing) are trusted with their own references."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.files.models import AttachableRef
from shared.errors import ProblemError
from shared.events import EventEnvelope

PROCEDURE_CREATED = "roumu.koyo_hoken.procedure.created"
FILING_DRAFTED = "roumu.efiling.filing.drafted"
_KINDS = {PROCEDURE_CREATED: ("procedure", "procedure_id"), FILING_DRAFTED: ("filing", "filing_id")}


def on_event(session: Session, event: EventEnvelope) -> None:
    """Remember a new procedure or filing; a redelivered event changes nothing."""
    kind_field = _KINDS.get(event.type)
    if kind_field is None or event.tenant_id is None:
        return
    kind, field = kind_field
    ref_id, jigyosho_id = event.subject.get(field), event.subject.get("jigyosho_id")
    if not isinstance(ref_id, str) or not isinstance(jigyosho_id, str):
        return
    if session.get(AttachableRef, (event.tenant_id, kind, ref_id)) is None:
        session.add(AttachableRef(tenant_id=event.tenant_id, kind=kind, ref_id=ref_id, jigyosho_id=jigyosho_id))
        session.flush()


def _unknown(kind: str) -> ProblemError:
    what = "手続" if kind == "procedure" else "電子申請"
    return ProblemError(404, "not-found", "指定されたリソースが見つかりません",
                        f"指定された{what}はこの事業所にありません (作成直後の場合は少し待ってから再度お試しください)")


def require_attachable(session: Session, tenant_id: str, jigyosho_id: str, procedure_id: str | None,
                       filing_id: str | None) -> None:
    for kind, ref_id in (("procedure", procedure_id), ("filing", filing_id)):
        if ref_id is None:
            continue
        row = session.execute(select(AttachableRef.jigyosho_id).where(
            AttachableRef.tenant_id == tenant_id, AttachableRef.kind == kind,
            AttachableRef.ref_id == ref_id)).scalar_one_or_none()
        if row != jigyosho_id:
            raise _unknown(kind)
