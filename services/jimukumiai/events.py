"""Events the jimukumiai service publishes (schemas in contracts/events/)."""

from __future__ import annotations

from services.jimukumiai.models import Member
from shared.events import Actor, EventEnvelope

MEMBER_ENTRUSTED = "roumu.jimukumiai.member.entrusted"


def member_entrusted(m: Member, actor: Actor) -> EventEnvelope:
    # The 労働保険番号 and the employer's name identify a business, not a person: facts, not secrets.
    return EventEnvelope(
        type=MEMBER_ENTRUSTED, tenant_id=m.tenant_id, actor=actor,
        subject={"member_id": m.id, "tenant_id": m.tenant_id, "jigyosho_id": m.jigyosho_id},
        data={"name": m.name, "labour_insurance_number": m.labour_insurance_number,
              "entrusted_from": m.entrusted_from.isoformat(), "status": m.status},
    )
