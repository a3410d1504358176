"""Events the koyo_hoken service publishes (schemas in contracts/events/), and the e-filing
status events it consumes.

Ids and facts only: names, birth dates and My Number stay in this service's database, since every
event is also kept by audit_log for years."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.koyo_hoken.models import EligibilityChange, InsuredPerson, Procedure
from shared.events import Actor, EventEnvelope

INSURED_PERSON_REGISTERED = "roumu.koyo_hoken.insured_person.registered"
INSURED_PERSON_UPDATED = "roumu.koyo_hoken.insured_person.updated"
MY_NUMBER_VIEWED = "roumu.koyo_hoken.my_number.viewed"
INSURED_PERSONS_EXPORTED = "roumu.koyo_hoken.insured_persons.exported"
PROCEDURE_CREATED = "roumu.koyo_hoken.procedure.created"
PROCEDURE_READY = "roumu.koyo_hoken.procedure.ready"
PROCEDURE_SUBMITTED = "roumu.koyo_hoken.procedure.submitted"
PROCEDURE_COMPLETED = "roumu.koyo_hoken.procedure.completed"
PROCEDURE_STATUS_CHANGED = "roumu.koyo_hoken.procedure.status_changed"
ELIGIBILITY_CHANGED = "roumu.koyo_hoken.eligibility.changed"

# Consumed: what services/efiling publishes about a filing (subject: filing_id, and the
# Idempotency-Key = our procedure id as procedure_id / idempotency_key).
EFILING_PREFIX = "roumu.efiling."


def _person_subject(p: InsuredPerson) -> dict[str, str]:
    return {"insured_person_id": p.id, "tenant_id": p.tenant_id, "jigyosho_id": p.jigyosho_id}


def insured_person_registered(p: InsuredPerson, actor: Actor) -> EventEnvelope:
    return insured_person_registered_row({c: getattr(p, c) for c in _REGISTERED_COLUMNS}, actor)


_REGISTERED_COLUMNS = ("id", "tenant_id", "jigyosho_id", "hire_date", "weekly_hours", "status")


def insured_person_registered_row(row: Mapping[str, Any], actor: Actor) -> EventEnvelope:
    """The same event from a person's column values (a bulk import inserts rows, not objects)."""
    return EventEnvelope(
        type=INSURED_PERSON_REGISTERED, tenant_id=row["tenant_id"], actor=actor,
        subject={"insured_person_id": row["id"], "tenant_id": row["tenant_id"], "jigyosho_id": row["jigyosho_id"]},
        # Decimal as a string: JSON numbers would round 37.5 hours on the way through some clients.
        data={"hire_date": row["hire_date"].isoformat(), "weekly_hours": str(row["weekly_hours"]),
              "status": row["status"]},
    )


def insured_person_updated(p: InsuredPerson, actor: Actor, changed: list[str]) -> EventEnvelope:
    """`changed`: the names of the fields that changed (never their values)."""
    return EventEnvelope(type=INSURED_PERSON_UPDATED, tenant_id=p.tenant_id, actor=actor, subject=_person_subject(p),
                         data={"changed_fields": sorted(changed), "status": p.status, "version": p.version})


def my_number_viewed(p: InsuredPerson, actor: Actor, purpose: str, procedure_id: str | None) -> EventEnvelope:
    """Every unmasked read of a My Number: who, whose (ids), why. Never the number."""
    return EventEnvelope(type=MY_NUMBER_VIEWED, tenant_id=p.tenant_id, actor=actor, subject=_person_subject(p),
                         data={"purpose": purpose, "procedure_id": procedure_id})


def insured_persons_exported(tenant_id: str, actor: Actor, jigyosho_filter: str | None, rows: int,
                             jigyosho_ids: set[str]) -> EventEnvelope:
    """A CSV export (operation log): who, how many rows, which 事業所; never the rows."""
    subject = {"tenant_id": tenant_id, **({"jigyosho_id": jigyosho_filter} if jigyosho_filter else {})}
    return EventEnvelope(type=INSURED_PERSONS_EXPORTED, tenant_id=tenant_id, actor=actor, subject=subject,
                         data={"format": "csv", "rows": rows, "jigyosho_ids": sorted(jigyosho_ids)})


def _proc_subject(pr: Procedure) -> dict[str, str]:
    return {"procedure_id": pr.id, "tenant_id": pr.tenant_id, "jigyosho_id": pr.jigyosho_id,
            "insured_person_id": pr.insured_person_id}


def procedure_created(pr: Procedure, actor: Actor) -> EventEnvelope:
    return EventEnvelope(type=PROCEDURE_CREATED, tenant_id=pr.tenant_id, actor=actor, subject=_proc_subject(pr),
                         data={"kind": pr.kind, "state": pr.state, "event_date": pr.event_date.isoformat(),
                               "due_date": pr.due_date.isoformat()})


def procedure_ready(pr: Procedure, actor: Actor, forms: list[dict[str, str]], form_data_path: str) -> EventEnvelope:
    """The hand-off to e-filing: ids, the form ids/versions and where to fetch the form data
    (with a service token); the form data itself (names, My Number) is never in the event."""
    return EventEnvelope(type=PROCEDURE_READY, tenant_id=pr.tenant_id, actor=actor, subject=_proc_subject(pr),
                         data={"kind": pr.kind, "proc_id": pr.proc_id, "forms": forms,
                               "form_data_path": form_data_path, "idempotency_key": pr.id,
                               "due_date": pr.due_date.isoformat()})


def procedure_transition(pr: Procedure, actor: Actor, previous: str, reason: str | None = None) -> EventEnvelope:
    """submitted / completed have their own types; every other state change is status_changed."""
    data: dict[str, Any] = {"kind": pr.kind, "from_state": previous, "state": pr.state, "filing_id": pr.filing_id}
    if pr.state == "submitted":
        return EventEnvelope(type=PROCEDURE_SUBMITTED, tenant_id=pr.tenant_id, actor=actor,
                             subject=_proc_subject(pr), data=data)
    if pr.state == "completed":
        return EventEnvelope(type=PROCEDURE_COMPLETED, tenant_id=pr.tenant_id, actor=actor,
                             subject=_proc_subject(pr), data=data)
    return EventEnvelope(type=PROCEDURE_STATUS_CHANGED, tenant_id=pr.tenant_id, actor=actor,
                         subject=_proc_subject(pr), data={**data, "reason": reason})


def eligibility_changed(c: EligibilityChange, actor: Actor) -> EventEnvelope:
    """A re-judgement for `as_of` changed a person's status: the procedure it requires and its
    deadline. Ids, dates and rule facts only (no name, no wage, no My Number)."""
    return EventEnvelope(
        type=ELIGIBILITY_CHANGED, tenant_id=c.tenant_id, actor=actor,
        subject={"insured_person_id": c.insured_person_id, "tenant_id": c.tenant_id, "jigyosho_id": c.jigyosho_id},
        data={"change_id": c.id, "as_of": c.as_of.isoformat(), "previous_insured": c.previous_insured,
              "insured": c.insured, "previous_rule_version": c.previous_rule_version,
              "rule_version": c.rule_version, "reason_code": c.reason_code, "procedure_kind": c.procedure_kind,
              "due_date": c.due_date.isoformat() if c.due_date else None,
              "raw_due_date": c.raw_due_date.isoformat() if c.raw_due_date else None,
              "deadline_rule": c.deadline_rule})
