"""Use cases of the jimukumiai service: each runs in one unit of work (rows + events)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.jimukumiai import events, repository
from services.jimukumiai.models import Member, messaging
from services.jimukumiai.schemas import MemberCreate
from shared.errors import ProblemError
from shared.events import Actor

NUMBER_TAKEN = ProblemError(409, "labour-insurance-number-taken",
                            "この労働保険番号は既に委託事業主として登録されています")


def entrust_member(session: Session, tenant_id: str, body: MemberCreate, actor: Actor) -> Member:
    if repository.member_by_number(session, tenant_id, body.labour_insurance_number):
        raise NUMBER_TAKEN
    member = Member(
        id=str(uuid.uuid4()), tenant_id=tenant_id, jigyosho_id=body.jigyosho_id, name=body.name,
        labour_insurance_number=body.labour_insurance_number, entrusted_from=body.entrusted_from,
        status="active", created_at=datetime.now(UTC),
    )
    session.add(member)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same number
        raise NUMBER_TAKEN from exc
    messaging.record(session, events.member_entrusted(member, actor))
    return member
