"""Events the webhooks service publishes and the ones it turns into webhooks (schemas in
contracts/events/)."""

from __future__ import annotations

from shared.events import Actor, EventEnvelope

ENDPOINT_CREATED = "roumu.webhooks.endpoint.created"
ENDPOINT_DISABLED = "roumu.webhooks.endpoint.disabled"
ENDPOINT_SECRET_ROTATED = "roumu.webhooks.endpoint.secret_rotated"  # noqa: S105 - an event type
TENANT_PURGED = "roumu.webhooks.tenant.purged"

# Consumed: internal event type → the public webhook type partners subscribe to, and the subject id
# deliveries are ordered by.
PERSON_REGISTERED = "roumu.koyo_hoken.insured_person.registered"
PERSON_UPDATED = "roumu.koyo_hoken.insured_person.updated"
PROCEDURE_COMPLETED = "roumu.koyo_hoken.procedure.completed"
OFFICIAL_DOCUMENT_RECEIVED = "roumu.efiling.filing.official_document_received"
CORRECTION_REQUESTED = "roumu.efiling.filing.correction_requested"

PUBLIC_TYPES: dict[str, tuple[str, str]] = {
    PERSON_REGISTERED: ("person.registered", "insured_person_id"),
    PERSON_UPDATED: ("person.updated", "insured_person_id"),
    PROCEDURE_COMPLETED: ("procedure.completed", "procedure_id"),
    OFFICIAL_DOCUMENT_RECEIVED: ("official_document.received", "filing_id"),
    CORRECTION_REQUESTED: ("correction.requested", "filing_id"),
}
# The links each webhook type carries (services/webhooks/service.py `_links`), in the contract.
LINKS: dict[str, tuple[str, ...]] = {
    "person.registered": ("insured_person",),
    "person.updated": ("insured_person",),
    "procedure.completed": ("procedure",),
    "official_document.received": ("filing", "document"),
    "correction.requested": ("filing",),
}
EVENT_TYPES: dict[str, str] = {
    "person.registered": "被保険者が登録された (採用)",
    "person.updated": "被保険者の項目が変わった (変わった項目名のみ。値は GET で読みます)",
    "procedure.completed": "雇用保険の手続が完了した (手続終了・公文書受領、または手入力)",
    "official_document.received": "電子申請の公文書を受け取った (ダウンロードできます)",
    "correction.requested": "電子申請に補正が求められた",
}


def endpoint_event(type_: str, tenant_id: str, endpoint_id: str, actor: Actor, **data: object) -> EventEnvelope:
    return EventEnvelope(type=type_, tenant_id=tenant_id, actor=actor,
                         subject={"endpoint_id": endpoint_id, "tenant_id": tenant_id}, data=dict(data))
