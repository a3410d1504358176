"""Events the koyo_hoken service publishes (schemas in contracts/events/).

Ids and facts only: names and birth dates stay in this service's database, since every event
is also kept by audit_log for years."""

from __future__ import annotations

from services.koyo_hoken.models import InsuredPerson
from shared.events import Actor, EventEnvelope

INSURED_PERSON_REGISTERED = "roumu.koyo_hoken.insured_person.registered"


def insured_person_registered(p: InsuredPerson, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=INSURED_PERSON_REGISTERED, tenant_id=p.tenant_id, actor=actor,
        subject={"insured_person_id": p.id, "tenant_id": p.tenant_id, "jigyosho_id": p.jigyosho_id},
        # Decimal as a string: JSON numbers would round 37.5 hours on the way through some clients.
        data={"hire_date": p.hire_date.isoformat(), "weekly_hours": str(p.weekly_hours), "status": p.status},
    )
