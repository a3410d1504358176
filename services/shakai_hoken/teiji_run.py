"""The 定時決定 run of a year (DOMAIN-SHAHO.md §9) over a tenant's enrolments, or some 事業所'.

It reads, per chunk of enrolments, their April–June pay (pay_months), the 標準報酬月額 in force on 7/1
(the 従前) and any 随時改定 / 終了時改定 effective July–September, applies rules.teiji (exclusions, day
rules, averaging, 保険者算定 flags) and inserts one result per person and year in one transaction per
chunk. A person with a result for the year is left alone, so the run is idempotent and a run
interrupted half-way (or two at once) is finished by running it again: the unique index on
(tenant, year, enrolment) decides, and a chunk that lost a race is read again."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.shakai_hoken.models import Enrolment, PayMonthRow, StandardRemuneration, TeijiResultRow, TeijiRun
from services.shakai_hoken.rules import teiji
from services.shakai_hoken.rules.grades import grade_by_number
from services.shakai_hoken.rules.months import Month
from services.shakai_hoken.rules.settings import ShahoRuleSettings
from services.shakai_hoken.rules.tables import Scheme
from shared.db import insert_unless_present

CHUNK = 500
RESULTS = cast(Table, TeijiResultRow.__table__)
RUNS = cast(Table, TeijiRun.__table__)
Transaction = Callable[[], AbstractContextManager[Session]]


def scope_key(jigyosho_ids: Sequence[str] | None) -> str:
    return "*" if jigyosho_ids is None else ",".join(sorted(set(jigyosho_ids)))


def open_run(tx: Transaction, tenant_id: str, year: int, jigyosho_ids: Sequence[str] | None, actor_id: str,
             now: datetime) -> str:
    """The run of (tenant, year, scope): made once, found again by a later call."""
    key = scope_key(jigyosho_ids)
    with tx() as session:
        insert_unless_present(session, RUNS, {
            "id": str(uuid.uuid4()), "tenant_id": tenant_id, "year": year, "scope_key": key,
            "jigyosho_ids": sorted(set(jigyosho_ids)) if jigyosho_ids is not None else None,
            "started_at": now, "finished_at": None, "actor_id": actor_id}, ["tenant_id", "year", "scope_key"])
        run_id = session.scalar(select(TeijiRun.id).where(TeijiRun.tenant_id == tenant_id, TeijiRun.year == year,
                                                          TeijiRun.scope_key == key))
    assert run_id is not None
    return run_id


def _candidates(session: Session, tenant_id: str, year: int, jigyosho_ids: Sequence[str] | None) -> list[str]:
    done = select(TeijiResultRow.enrolment_id).where(TeijiResultRow.tenant_id == tenant_id,
                                                      TeijiResultRow.year == year)
    q = select(Enrolment.id).where(
        Enrolment.tenant_id == tenant_id, Enrolment.acquired_on <= date(year, 7, 1),
        or_(Enrolment.lost_on.is_(None), Enrolment.lost_on > date(year, 4, 1)), Enrolment.id.not_in(done))
    if jigyosho_ids is not None:
        q = q.where(Enrolment.jigyosho_id.in_(jigyosho_ids))
    return list(session.scalars(q.order_by(Enrolment.id)))


def _result_values(e: Any, year: int, run_id: str, grades: list[Any], pays: list[Any], settings: ShahoRuleSettings,
                   now: datetime) -> dict[str, Any]:
    """One person's result row. `e`, `grades` and `pays` are column rows (not ORM objects: a chunk
    reads thousands at once) with the attributes of Enrolment, StandardRemuneration, PayMonthRow."""
    july = date(year, 7, 1)
    current = max((g for g in grades if g.effective_from <= july), key=lambda g: g.effective_from, default=None)
    revised = next((Month.of(g.effective_from) for g in grades if g.reason in ("zuiji", "leave_end")
                    and date(year, 7, 1) <= g.effective_from <= date(year, 9, 1)), None)
    base: dict[str, Any] = {"id": str(uuid.uuid4()), "tenant_id": e.tenant_id, "year": year, "run_id": run_id,
                            "enrolment_id": e.id, "jigyosho_id": e.jigyosho_id, "exclusion": None,
                            "remuneration": None, "old_kenpo_grade": current.kenpo_grade if current else None,
                            "old_kounen_grade": current.kounen_grade if current else None, "kenpo_grade": None,
                            "kenpo_standard": None, "kounen_grade": None, "kounen_standard": None,
                            "kept_previous": False, "flags": [], "flagged": False, "created_at": now}
    why = teiji.exclusion(year, e.acquired_on, e.lost_on, revised)
    if why is not None:
        return {**base, "status": "excluded", "exclusion": why.value}
    if current is None:
        return {**base, "status": "excluded", "exclusion": "no_current_grade", "flagged": True,
                "flags": ["従前の標準報酬月額がないため算定できません"]}
    on = date(year, 9, 1)
    r = teiji.teiji_kettei(
        year=year, worker=teiji.WorkerType(e.worker_type), settings=settings,
        previous_kenpo=grade_by_number(Scheme.KENPO, current.kenpo_grade, on),
        previous_kounen=grade_by_number(Scheme.KOUNEN, current.kounen_grade, on),
        months=[teiji.PayMonth(Month.of(p.month), p.pay, p.base_days, p.retro_pay, p.partial_first_month,
                               p.leave_pay) for p in pays])
    return {**base, "status": "decided", "remuneration": r.remuneration, "kenpo_grade": r.kenpo.grade,
            "kenpo_standard": r.kenpo.standard, "kounen_grade": r.kounen.grade, "kounen_standard": r.kounen.standard,
            "kept_previous": r.kept_previous, "flags": list(r.flags), "flagged": bool(r.flags)}


def _chunk(session: Session, tenant_id: str, ids: list[str], year: int, run_id: str, settings: ShahoRuleSettings,
           now: datetime) -> int:
    """`ids` are sorted: the chunk reads the id range (tenant-filtered, on the unique indexes' leading
    column) rather than an IN list of hundreds of bound ids, and keeps the wanted ones."""
    e_, g_, p_ = Enrolment, StandardRemuneration, PayMonthRow
    wanted, lo, hi = set(ids), ids[0], ids[-1]
    enrolments = [e for e in session.execute(
        select(e_.id, e_.tenant_id, e_.jigyosho_id, e_.acquired_on, e_.lost_on, e_.worker_type)
        .where(e_.tenant_id == tenant_id, e_.id >= lo, e_.id <= hi)) if e.id in wanted]
    grades: dict[str, list[Any]] = defaultdict(list)
    for g in session.execute(select(g_.enrolment_id, g_.effective_from, g_.reason, g_.kenpo_grade, g_.kounen_grade)
                             .where(g_.tenant_id == tenant_id, g_.enrolment_id >= lo, g_.enrolment_id <= hi)):
        grades[g.enrolment_id].append(g)
    pays: dict[str, list[Any]] = defaultdict(list)
    for p in session.execute(select(p_.enrolment_id, p_.month, p_.pay, p_.base_days, p_.retro_pay,
                                    p_.partial_first_month, p_.leave_pay)
                             .where(p_.tenant_id == tenant_id, p_.enrolment_id >= lo, p_.enrolment_id <= hi,
                                    p_.month >= date(year, 4, 1), p_.month <= date(year, 6, 1))):
        pays[p.enrolment_id].append(p)
    rows = [_result_values(e, year, run_id, grades[e.id], pays[e.id], settings, now) for e in enrolments]
    if rows:
        session.execute(insert(RESULTS), rows)  # Core: no ORM bookkeeping per row
    return len(rows)


def run(tx: Transaction, tenant_id: str, year: int, jigyosho_ids: Sequence[str] | None, actor_id: str,
        settings: ShahoRuleSettings, now: datetime) -> tuple[str, int]:
    """Run (or finish) the year's 定時決定 over the scope: the run id and how many results this call
    wrote."""
    run_id = open_run(tx, tenant_id, year, jigyosho_ids, actor_id, now)
    written = 0
    for _attempt in range(5):
        with tx() as session:
            todo = _candidates(session, tenant_id, year, jigyosho_ids)
        if not todo:
            break
        try:
            for i in range(0, len(todo), CHUNK):
                with tx() as session:
                    written += _chunk(session, tenant_id, todo[i:i + CHUNK], year, run_id, settings, now)
        except IntegrityError:
            continue  # another run wrote some of these first: read what is left and go on
    with tx() as session:
        row = session.get(TeijiRun, run_id)
        if row is not None:
            row.finished_at = now
    return run_id, written
