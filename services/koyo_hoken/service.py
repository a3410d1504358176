"""Use cases of the koyo_hoken service: each runs in one unit of work (rows + events)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from services.koyo_hoken import events
from services.koyo_hoken.models import InsuredPerson, messaging
from services.koyo_hoken.schemas import InsuredPersonCreate
from shared.events import Actor


def register_insured_person(session: Session, tenant_id: str, body: InsuredPersonCreate,
                            actor: Actor) -> InsuredPerson:
    person = InsuredPerson(
        id=str(uuid.uuid4()), tenant_id=tenant_id, jigyosho_id=body.jigyosho_id,
        family_name=body.family_name, given_name=body.given_name,
        family_name_kana=body.family_name_kana, given_name_kana=body.given_name_kana,
        birth_date=body.birth_date, hire_date=body.hire_date, weekly_hours=body.weekly_hours,
        status="active", created_at=datetime.now(UTC),
    )
    session.add(person)
    session.flush()
    messaging.record(session, events.insured_person_registered(person, actor))
    return person
