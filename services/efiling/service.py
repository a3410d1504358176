"""Use cases of the efiling service: each runs in one unit of work (rows + events)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.efiling import events, repository
from services.efiling.models import Filing, messaging
from services.efiling.schemas import FilingCreate
from shared.errors import ProblemError
from shared.events import Actor

KEY_REUSED = ProblemError(
    422, "idempotency-key-reused", "この Idempotency-Key は別の内容の申請で使われています",
    "再送には最初と同じ内容を送るか、新しい Idempotency-Key を指定してください",
)


def _fingerprint(body: FilingCreate) -> str:
    # Field order is the schema's, so the same request always hashes the same.
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def _replay(existing: Filing, fingerprint: str) -> Filing:
    if existing.request_hash != fingerprint:
        raise KEY_REUSED
    return existing


def draft_filing(session: Session, tenant_id: str, body: FilingCreate, actor: Actor,
                 idempotency_key: str | None = None) -> tuple[Filing, bool]:
    """Create a draft filing; with a retry key already used by this tenant, return that filing.

    Returns (filing, created). A retry never drafts — and so never files — twice."""
    fingerprint = _fingerprint(body)
    if idempotency_key is not None:
        existing = repository.filing_by_idempotency_key(session, tenant_id, idempotency_key)
        if existing is not None:
            return _replay(existing, fingerprint), False
    filing = Filing(
        id=str(uuid.uuid4()), tenant_id=tenant_id, jigyosho_id=body.jigyosho_id,
        procedure_code=body.procedure_code, title=body.title, status="draft",
        idempotency_key=idempotency_key,
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
    messaging.record(session, events.filing_drafted(filing, actor))
    return filing, True
