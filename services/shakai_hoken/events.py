"""Events the shakai_hoken service publishes (schemas in contracts/events/) and the koyo_hoken
person events it reads. Ids and facts only: no names, no birth date, never a My Number or a
基礎年金番号 (every event is also kept by audit_log for years)."""

from __future__ import annotations

from typing import Any

from services.shakai_hoken.models import Enrolment, ShahoOffice, StandardRemuneration
from shared.events import Actor, EventEnvelope

OFFICE_UPDATED = "roumu.shakai_hoken.office.updated"
ENROLMENT_CREATED = "roumu.shakai_hoken.enrolment.created"
ENROLMENT_LOST = "roumu.shakai_hoken.enrolment.lost"
GRADE_CHANGED = "roumu.shakai_hoken.standard_remuneration.changed"
TEIJI_RUN_COMPLETED = "roumu.shakai_hoken.teiji_run.completed"
BONUS_RECORDED = "roumu.shakai_hoken.bonus.recorded"

# Consumed: koyo_hoken's person master (registered / updated).
KOYO_PERSON_PREFIX = "roumu.koyo_hoken.insured_person."
KOYO_PERSON_REGISTERED = "roumu.koyo_hoken.insured_person.registered"


def office_updated(o: ShahoOffice, actor: Actor, created: bool) -> EventEnvelope:
    return EventEnvelope(type=OFFICE_UPDATED, tenant_id=o.tenant_id, actor=actor,
                         subject={"tenant_id": o.tenant_id, "jigyosho_id": o.jigyosho_id},
                         data={"created": created, "insurer_kind": o.insurer_kind, "prefecture": o.prefecture,
                               "tokutei_tekiyo": o.tokutei_tekiyo, "version": o.version})


def _subject(e: Enrolment) -> dict[str, str]:
    return {"enrolment_id": e.id, "tenant_id": e.tenant_id, "jigyosho_id": e.jigyosho_id,
            "insured_person_id": e.insured_person_id}


def enrolment_created(e: Enrolment, actor: Actor, due: str | None) -> EventEnvelope:
    return EventEnvelope(type=ENROLMENT_CREATED, tenant_id=e.tenant_id, actor=actor, subject=_subject(e),
                         data={"acquired_on": e.acquired_on.isoformat(), "kenpo": e.kenpo, "kounen": e.kounen,
                               "shutoku_due": due})


def enrolment_lost(e: Enrolment, actor: Actor, due: str | None) -> EventEnvelope:
    assert e.lost_on is not None
    return EventEnvelope(type=ENROLMENT_LOST, tenant_id=e.tenant_id, actor=actor, subject=_subject(e),
                         data={"lost_on": e.lost_on.isoformat(), "soshitsu_due": due})


def grade_changed(e: Enrolment, s: StandardRemuneration, actor: Actor,
                  previous: StandardRemuneration | None) -> EventEnvelope:
    data: dict[str, Any] = {
        "effective_from": s.effective_from.isoformat()[:7], "reason": s.reason,
        "kenpo_grade": s.kenpo_grade, "kenpo_standard": s.kenpo_standard,
        "kounen_grade": s.kounen_grade, "kounen_standard": s.kounen_standard,
        "previous_kenpo_grade": previous.kenpo_grade if previous else None,
        "previous_kounen_grade": previous.kounen_grade if previous else None,
    }
    return EventEnvelope(type=GRADE_CHANGED, tenant_id=e.tenant_id, actor=actor,
                         subject={**_subject(e), "standard_remuneration_id": s.id}, data=data)


def teiji_run_completed(tenant_id: str, run_id: str, year: int, jigyosho_ids: list[str] | None, written: int,
                        actor: Actor) -> EventEnvelope:
    """A 定時決定 run (or a rerun finishing it) ended: how many results this call wrote."""
    return EventEnvelope(type=TEIJI_RUN_COMPLETED, tenant_id=tenant_id, actor=actor,
                         subject={"tenant_id": tenant_id, "run_id": run_id},
                         data={"year": year, "jigyosho_ids": jigyosho_ids, "written": written})


def bonus_recorded(e: Enrolment, paid_on: str, kenpo: int, kounen: int, due: str | None,
                   actor: Actor) -> EventEnvelope:
    """A 賞与 was recorded: the month's capped 標準賞与額 of both insurances and the 賞与支払届 deadline."""
    return EventEnvelope(type=BONUS_RECORDED, tenant_id=e.tenant_id, actor=actor, subject=_subject(e),
                         data={"paid_on": paid_on, "kenpo_standard_bonus": kenpo, "kounen_standard_bonus": kounen,
                               "shoyo_due": due})
