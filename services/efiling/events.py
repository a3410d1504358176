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


# ---- reads of what a filing holds (operation log): who downloaded which package or 公文書; a
# package download that showed the My Number is also a view of that number, recorded like
# koyo_hoken's (audit_log's "who saw this My Number" lists both). Ids only, never the number.
PACKAGE_DOWNLOADED = "roumu.efiling.package.downloaded"
DOCUMENT_DOWNLOADED = "roumu.efiling.document.downloaded"
MY_NUMBER_VIEWED = "roumu.efiling.my_number.viewed"


def package_downloaded(f: Filing, actor: Actor, package_id: str, kind: str, disclosure: str) -> EventEnvelope:
    """`disclosure` of the My Number: `shown`, `blanked` (the caller may not see it) or `none` (the
    package holds none)."""
    return EventEnvelope(type=PACKAGE_DOWNLOADED, tenant_id=f.tenant_id, actor=actor,
                         subject={**subject(f), "package_id": package_id},
                         data={"procedure_code": f.procedure_code, "kind": kind, "disclosure": disclosure})


def document_downloaded(f: Filing, actor: Actor, document_id: str, notice_sub_id: int) -> EventEnvelope:
    return EventEnvelope(type=DOCUMENT_DOWNLOADED, tenant_id=f.tenant_id, actor=actor,
                         subject={**subject(f), "document_id": document_id},
                         data={"procedure_code": f.procedure_code, "notice_sub_id": notice_sub_id})


def my_number_viewed(f: Filing, actor: Actor, package_id: str) -> EventEnvelope:
    """The person is named when the caller that asked for the filing named one (koyo_hoken does)."""
    subj = {**subject(f), "package_id": package_id}
    if f.insured_person_id:
        subj["insured_person_id"] = f.insured_person_id
    return EventEnvelope(type=MY_NUMBER_VIEWED, tenant_id=f.tenant_id, actor=actor, subject=subj,
                         data={"purpose": "package_download", "procedure_code": f.procedure_code})
