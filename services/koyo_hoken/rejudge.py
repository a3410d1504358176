"""Eligibility as data (issue 25): store each person's decision, re-judge for a date.

`rejudge` judges every person of the scope employed on `as_of` (rules/rejudgement.py), stores the
decision on each (when `as_of` is not older than the stored one), and records one
`EligibilityChange` per person whose status changes, with its `roumu.koyo_hoken.eligibility.changed`
event, in one unit of work. A change already recorded for that person and date is found and not
recorded again: a re-run (on demand, or the scheduler after a restart) creates nothing twice.

`scheduled_pass` is the leader-run daily check (app.py): for each rule change date that has come
(in Japan), every tenant with persons that has not had its scheduled re-judgement for that date
gets one (`rejudgement_schedule` remembers it)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.koyo_hoken import events
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import (
    EligibilityChange,
    EligibilityDecision,
    InsuredPerson,
    RejudgementSchedule,
    messaging,
)
from services.koyo_hoken.rules import eligibility as el
from services.koyo_hoken.rules import rejudgement as rj
from shared.db import Database
from shared.events import SYSTEM, Actor


@dataclass
class Result:
    as_of: date
    rule_version: str
    judged: int = 0
    created: int = 0
    changes: list[EligibilityChange] = field(default_factory=list)


def facts_of(p: InsuredPerson, on: date) -> el.Facts:
    return el.Facts(on=on, birth_date=p.birth_date, weekly_hours=p.weekly_hours, employment_start=p.hire_date,
                    contract_end=p.contract_end, renewal_clause=p.renewal_clause, student=el.Student(p.student))


def store_decision(session: Session, ctx: KoyoContext, p: InsuredPerson, d: el.Decision, on: date,
                   current: EligibilityDecision | None, *, replace_later: bool = False) -> None:
    """Keep `d` as the person's current decision unless a later date's is stored (`replace_later`:
    the facts changed, so a later date's decision judged on the old facts goes too)."""
    if current is not None and current.judged_on > on and not replace_later:
        return
    if current is None:
        current = EligibilityDecision(tenant_id=p.tenant_id, insured_person_id=p.id)
        session.add(current)
    current.jigyosho_id = p.jigyosho_id
    current.insured, current.category = d.insured, d.category
    current.reason_code, current.reason = d.reason_code, d.reason[:300]
    current.rule_version, current.judged_on, current.judged_at = d.rule_version, on, ctx.clock.now()


def judge_new(session: Session, ctx: KoyoContext, p: InsuredPerson) -> None:
    """A person just registered or changed: the decision on the later of the hire date and today."""
    on = max(p.hire_date, ctx.today())
    current = session.get(EligibilityDecision, (p.tenant_id, p.id))
    store_decision(session, ctx, p, el.decide(facts_of(p, on)), on, current, replace_later=True)


def rejudge(session: Session, ctx: KoyoContext, tenant_id: str, as_of: date, *, granted: Collection[str] | None,
            jigyosho_id: str | None, actor: Actor) -> Result:
    where = [InsuredPerson.tenant_id == tenant_id, InsuredPerson.hire_date <= as_of,
             or_(InsuredPerson.leave_date.is_(None), InsuredPerson.leave_date >= as_of)]
    if granted is not None:
        where.append(InsuredPerson.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(InsuredPerson.jigyosho_id == jigyosho_id)
    persons = session.execute(select(InsuredPerson).where(*where)
                              .order_by(InsuredPerson.jigyosho_id, InsuredPerson.created_at, InsuredPerson.id)
                              ).scalars().all()
    ids = [p.id for p in persons]
    stored: dict[str, EligibilityDecision] = {}
    recorded: dict[str, EligibilityChange] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        stored.update((d.insured_person_id, d) for d in session.execute(select(EligibilityDecision).where(
            EligibilityDecision.tenant_id == tenant_id, EligibilityDecision.insured_person_id.in_(chunk))).scalars())
        recorded.update((c.insured_person_id, c) for c in session.execute(select(EligibilityChange).where(
            EligibilityChange.tenant_id == tenant_id, EligibilityChange.as_of == as_of,
            EligibilityChange.insured_person_id.in_(chunk))).scalars())
    out = Result(as_of, el.ruleset_on(as_of).version)
    now = ctx.clock.now()
    for p in persons:
        facts = facts_of(p, as_of)
        current = stored.get(p.id)
        prev_stored = None if current is None else rj.Previous(current.insured, current.rule_version)
        previous = rj.previous_of(facts, prev_stored, None if current is None else current.judged_on)
        decision, change = rj.rejudge(facts, previous, p.hire_date < as_of, ctx.settings.shift_fixed_date_deadlines)
        out.judged += 1
        if p.id in recorded:
            out.changes.append(recorded[p.id])
        elif change is not None:
            c = EligibilityChange(
                id=str(uuid.uuid4()), tenant_id=tenant_id, jigyosho_id=p.jigyosho_id, insured_person_id=p.id,
                as_of=as_of, previous_insured=change.previous.insured, insured=decision.insured,
                previous_rule_version=change.previous.rule_version, rule_version=decision.rule_version,
                reason_code=decision.reason_code, reason=decision.reason[:300],
                procedure_kind=change.procedure_kind,
                raw_due_date=change.deadline.raw if change.deadline else None,
                due_date=change.deadline.due if change.deadline else None,
                deadline_rule=change.deadline.rule if change.deadline else None, created_at=now)
            session.add(c)
            session.flush()  # the unique (tenant, person, as_of) index refuses a concurrent twin here
            messaging.record(session, events.eligibility_changed(c, actor))
            out.changes.append(c)
            out.created += 1
        store_decision(session, ctx, p, decision, as_of, current)
    session.flush()
    return out


def changes_in(session: Session, tenant_id: str, granted: Collection[str] | None, *, as_of: date | None,
               jigyosho_id: str | None) -> Sequence[EligibilityChange]:
    where = [EligibilityChange.tenant_id == tenant_id]
    if granted is not None:
        where.append(EligibilityChange.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(EligibilityChange.jigyosho_id == jigyosho_id)
    if as_of is not None:
        where.append(EligibilityChange.as_of == as_of)
    return session.execute(select(EligibilityChange).where(*where).order_by(
        EligibilityChange.as_of, EligibilityChange.jigyosho_id, EligibilityChange.due_date,
        EligibilityChange.created_at, EligibilityChange.id)).scalars().all()


def scheduled_pass(db: Database, ctx: KoyoContext, only_tenants: Collection[str] | None = None) -> int:
    """One daily check (run by the leader): the due scheduled re-judgements. Returns the changes made.
    `only_tenants`: limit the pass to these tenants (tests share one database)."""
    today = ctx.today()
    made = 0
    for as_of in rj.change_dates():
        if as_of > today:
            continue
        with db.sessions() as session:
            done = select(RejudgementSchedule.tenant_id).where(RejudgementSchedule.as_of == as_of)
            query = select(InsuredPerson.tenant_id).distinct().where(InsuredPerson.tenant_id.not_in(done))
            if only_tenants is not None:
                query = query.where(InsuredPerson.tenant_id.in_(sorted(only_tenants)))
            tenants = session.execute(query).scalars().all()
        for tenant_id in sorted(tenants):
            with db.transaction() as session:
                r = rejudge(session, ctx, tenant_id, as_of, granted=None, jigyosho_id=None, actor=SYSTEM)
                session.add(RejudgementSchedule(tenant_id=tenant_id, as_of=as_of, judged=r.judged,
                                                changes=r.created, ran_at=ctx.clock.now()))
            made += r.created
    return made


def decision_row(ctx: KoyoContext, person: dict[str, Any]) -> dict[str, Any]:
    """The stored decision of a person inserted in bulk (a CSV import), from its column values:
    judged like `judge_new`, on the later of the hire date and today."""
    on = max(person["hire_date"], ctx.today())
    d = el.decide(el.Facts(on=on, birth_date=person["birth_date"], weekly_hours=Decimal(person["weekly_hours"]),
                           employment_start=person["hire_date"], contract_end=person.get("contract_end"),
                           renewal_clause=bool(person.get("renewal_clause")),
                           student=el.Student(person.get("student") or "none")))
    return {"tenant_id": person["tenant_id"], "insured_person_id": person["id"], "jigyosho_id": person["jigyosho_id"],
            "insured": d.insured, "category": d.category, "reason_code": d.reason_code, "reason": d.reason[:300],
            "rule_version": d.rule_version, "judged_on": on, "judged_at": ctx.clock.now()}
