"""Events the efiling service publishes (schemas in contracts/events/).

The title is left out: staff write names of people into it (「山田太郎 資格取得届」)."""

from __future__ import annotations

from services.efiling.models import Filing
from shared.events import Actor, EventEnvelope

FILING_DRAFTED = "roumu.efiling.filing.drafted"


def filing_drafted(f: Filing, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=FILING_DRAFTED, tenant_id=f.tenant_id, actor=actor,
        subject={"filing_id": f.id, "tenant_id": f.tenant_id, "jigyosho_id": f.jigyosho_id},
        data={"procedure_code": f.procedure_code, "status": f.status},
    )
