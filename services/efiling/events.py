"""Events the efiling service publishes (schemas in contracts/events/).

The title is left out: staff write names of people into it (「山田太郎 資格取得届」).

Subject: `filing_id` first (the aggregate id events are ordered by), `tenant_id`, `jigyosho_id`,
and — when the filing was asked for with one — the caller's `idempotency_key` (koyo_hoken and
jimukumiai send their procedure id) and `source` (the service that asked), so the caller follows
its own procedure without keeping efiling's ids."""

from __future__ import annotations

from services.efiling.models import Filing, OfficeCertificate
from shared.events import Actor, EventEnvelope

FILING_DRAFTED = "roumu.efiling.filing.drafted"


def subject(f: Filing) -> dict[str, str]:
    out = {"filing_id": f.id, "tenant_id": f.tenant_id, "jigyosho_id": f.jigyosho_id}
    if f.idempotency_key:
        out["idempotency_key"] = f.idempotency_key
    if f.source:
        out["source"] = f.source
    return out


def filing_drafted(f: Filing, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=FILING_DRAFTED, tenant_id=f.tenant_id, actor=actor, subject=subject(f),
        data={"procedure_code": f.procedure_code, "status": f.status},
    )


# ---- e-Gov submission and tracking (issue 8): ids and facts; no names, no notice text.
FILING_SUBMITTED = "roumu.efiling.filing.submitted"
FILING_ARRIVED = "roumu.efiling.filing.arrived"
FILING_STATUS_CHANGED = "roumu.efiling.filing.status_changed"
FILING_CORRECTION_REQUESTED = "roumu.efiling.filing.correction_requested"
FILING_OFFICIAL_DOCUMENT_RECEIVED = "roumu.efiling.filing.official_document_received"
FILING_WITHDRAWN = "roumu.efiling.filing.withdrawn"


def filing_event(type_: str, f: Filing, actor: Actor, **data: object) -> EventEnvelope:
    return EventEnvelope(
        type=type_, tenant_id=f.tenant_id, actor=actor, subject=subject(f),
        data={"procedure_code": f.procedure_code, "status": f.status, **data},
    )


# ---- office certificates: public facts only (never the key, the PKCS#12 password or the subject,
# which names a person for a 理事長's certificate).
CERTIFICATE_ADDED = "roumu.efiling.certificate.added"
CERTIFICATE_REMOVED = "roumu.efiling.certificate.removed"


def certificate_event(type_: str, cert: OfficeCertificate, actor: Actor, **data: object) -> EventEnvelope:
    return EventEnvelope(type=type_, tenant_id=cert.tenant_id, actor=actor,
                         subject={"certificate_id": cert.id, "tenant_id": cert.tenant_id}, data=dict(data))
