"""Use cases of the shakai_hoken service: each one unit of work (rows and events together), the
rules from services/shakai_hoken/rules, problem+json refusals in Japanese."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from services.shakai_hoken import events, repository
from services.shakai_hoken.context import ShahoContext
from services.shakai_hoken.models import (
    BonusRow,
    Enrolment,
    PayMonthRow,
    PersonRef,
    ShahoOffice,
    StandardRemuneration,
    TeijiResultRow,
    TeijiRun,
    jigyosho_directory,
    messaging,
)
from services.shakai_hoken.rules import bonus as bonus_rules
from services.shakai_hoken.rules import deadlines, premiums, rates, revision
from services.shakai_hoken.rules import enrolment as enrolment_rules
from services.shakai_hoken.rules.grades import lookup
from services.shakai_hoken.rules.months import Month
from services.shakai_hoken.rules.tables import Scheme
from services.shakai_hoken.rules.teiji import PayMonth, WorkerType
from services.shakai_hoken.schemas import (
    BonusIn,
    BonusOut,
    DeadlineOut,
    EnrolmentCreate,
    EnrolmentOut,
    GradeIn,
    GradeOut,
    OfficeIn,
    OfficeOut,
    PayIn,
    PayOut,
    PremiumOut,
    SchemeRevisionOut,
    TeijiResultOut,
    TeijiResultPage,
    TeijiSummary,
    ZuijiIn,
    ZuijiOut,
    month_of,
)
from shared.errors import ProblemError, not_found
from shared.events import Actor, EventEnvelope
from shared.jigyosho_directory import closed_jigyosho, unknown_jigyosho
from shared.permissions import Access


def invalid(field: str, message: str) -> ProblemError:
    return ProblemError(422, "validation", "入力内容に誤りがあります", message,
                        errors=[{"field": field, "message": message, "code": "invalid"}])


def conflict(title: str, detail: str) -> ProblemError:
    return ProblemError(409, "conflict", title, detail)


def require_open_jigyosho(session: Session, tenant_id: str, jigyosho_id: str) -> None:
    entry = jigyosho_directory.get(session, tenant_id, jigyosho_id)
    if entry is None:
        raise unknown_jigyosho(jigyosho_id)
    if not entry.is_open:
        raise closed_jigyosho(entry)


# --- the person read model (koyo_hoken's events) -------------------------------------------------

def on_koyo_person_event(session: Session, event: EventEnvelope) -> None:
    """roumu.koyo_hoken.insured_person.registered | updated → person_refs (ids, 事業所, hire date,
    status). An older event arriving after a newer one changes nothing."""
    if not event.type.startswith(events.KOYO_PERSON_PREFIX) or event.tenant_id is None:
        return
    person_id = event.subject.get("insured_person_id")
    jigyosho_id = event.subject.get("jigyosho_id")
    if not person_id or not jigyosho_id:
        return
    ref = session.get(PersonRef, (event.tenant_id, person_id))
    if ref is not None and ref.updated_at > event.occurred_at:
        return
    hire = event.data.get("hire_date")
    if ref is None:
        session.add(PersonRef(tenant_id=event.tenant_id, insured_person_id=person_id, jigyosho_id=jigyosho_id,
                              hire_date=date.fromisoformat(hire) if hire else None,
                              status=str(event.data.get("status", "active")), updated_at=event.occurred_at))
        return
    ref.jigyosho_id = jigyosho_id
    if hire:
        ref.hire_date = date.fromisoformat(hire)
    if "status" in event.data:
        ref.status = str(event.data["status"])
    ref.updated_at = event.occurred_at


# --- offices -------------------------------------------------------------------------------------

def office_out(o: ShahoOffice) -> OfficeOut:
    return OfficeOut.model_validate({
        "jigyosho_id": o.jigyosho_id, "seiri_kigo": o.seiri_kigo, "office_number": o.office_number,
        "insurer_kind": o.insurer_kind, "prefecture": o.prefecture, "kumiai_name": o.kumiai_name,
        "kumiai_rates": o.kumiai_rates, "tokutei_tekiyo": o.tokutei_tekiyo,
        "collection_timing": o.collection_timing, "rounding": o.rounding, "version": o.version,
        "updated_at": o.updated_at})


def put_office(session: Session, ctx: ShahoContext, access: Access, jigyosho_id: str, body: OfficeIn,
               actor: Actor) -> tuple[ShahoOffice, bool]:
    require_open_jigyosho(session, access.tenant_id, jigyosho_id)
    now = ctx.clock.now()
    values: dict[str, Any] = body.model_dump(mode="json")
    o = repository.office(session, access.tenant_id, jigyosho_id)
    created = o is None
    if o is None:
        o = ShahoOffice(tenant_id=access.tenant_id, jigyosho_id=jigyosho_id, created_at=now, **values,
                        updated_at=now)
        session.add(o)
    else:
        for k, v in values.items():
            setattr(o, k, v)
        o.updated_at = now
    session.flush()
    messaging.record(session, events.office_updated(o, actor, created))
    return o, created


def _health_rates(o: ShahoOffice, month: Month) -> rates.HealthRates:
    try:
        if o.insurer_kind == "kyokai":
            assert o.prefecture is not None
            return rates.kyokai_health_rates(o.prefecture, month)
        rows = tuple(rates.KumiaiRates(Month.parse(r["effective_from"]), Decimal(r["health_rate"]),
                                       Decimal(r["health_employee_rate"]), Decimal(r["kaigo_rate"]),
                                       Decimal(r["kaigo_employee_rate"])) for r in o.kumiai_rates)
        return rates.kumiai_health_rates(rows, month)
    except ValueError:
        raise invalid("month", f"{month} 分の健康保険料率が登録されていません") from None


# --- enrolments ----------------------------------------------------------------------------------

def grade_out(s: StandardRemuneration) -> GradeOut:
    return GradeOut(effective_from=s.effective_from.isoformat()[:7], reason=s.reason, remuneration=s.remuneration,
                    kenpo_grade=s.kenpo_grade, kenpo_standard=s.kenpo_standard, kounen_grade=s.kounen_grade,
                    kounen_standard=s.kounen_standard)


def _deadline_out(d: deadlines.Deadline) -> DeadlineOut:
    return DeadlineOut(procedure=d.procedure.value, base_date=d.base_date, raw=d.raw, due=d.due,
                       shifted_by=d.shifted_by, source=d.source)


def enrolment_deadlines(ctx: ShahoContext, e: Enrolment) -> list[deadlines.Deadline]:
    out = [deadlines.deadline(deadlines.Procedure.SHUTOKU, e.acquired_on, ctx.rules)]
    if e.lost_on is not None:
        out.append(deadlines.deadline(deadlines.Procedure.SOSHITSU, e.lost_on, ctx.rules))
    return out


def enrolment_out(session: Session, ctx: ShahoContext, e: Enrolment) -> EnrolmentOut:
    current = repository.grade_in_force(session, e.id, max(ctx.today(), e.acquired_on))
    return EnrolmentOut(id=e.id, jigyosho_id=e.jigyosho_id, insured_person_id=e.insured_person_id,
                        acquired_on=e.acquired_on, lost_on=e.lost_on, worker_type=e.worker_type, kenpo=e.kenpo,
                        kounen=e.kounen, version=e.version, current=grade_out(current) if current else None,
                        deadlines=[_deadline_out(d) for d in enrolment_deadlines(ctx, e)])


def _new_grade(session: Session, ctx: ShahoContext, e: Enrolment, month: Month, remuneration: int, reason: str,
               actor: Actor) -> StandardRemuneration:
    on = month.first_day()
    previous = repository.grade_in_force(session, e.id, on)
    if previous is not None and previous.effective_from == on:
        raise conflict("この月からの標準報酬月額は登録済みです", f"{month} からの決定が既にあります")
    k, p = lookup(Scheme.KENPO, remuneration, on), lookup(Scheme.KOUNEN, remuneration, on)
    s = StandardRemuneration(id=str(uuid.uuid4()), tenant_id=e.tenant_id, enrolment_id=e.id, effective_from=on,
                             reason=reason, remuneration=remuneration, kenpo_grade=k.grade,
                             kenpo_standard=k.standard, kounen_grade=p.grade, kounen_standard=p.standard,
                             created_at=ctx.clock.now())
    session.add(s)
    session.flush()
    messaging.record(session, events.grade_changed(e, s, actor, previous))
    return s


def create_enrolment(session: Session, ctx: ShahoContext, access: Access, body: EnrolmentCreate,
                     actor: Actor) -> Enrolment:
    """資格取得: the person must be one koyo_hoken registered in a 事業所 the caller may see (else 404,
    as for a missing id), the 事業所 open and its 社保 data entered."""
    ref = repository.person_ref(session, access.tenant_id, body.insured_person_id)
    if ref is None or not access.allows_jigyosho(ref.jigyosho_id):
        raise not_found()
    require_open_jigyosho(session, access.tenant_id, ref.jigyosho_id)
    if repository.office(session, access.tenant_id, ref.jigyosho_id) is None:
        raise conflict("社会保険の事業所情報が登録されていません", "先に事業所整理記号・保険者を登録してください")
    if repository.open_enrolment_of(session, access.tenant_id, body.insured_person_id) is not None:
        raise conflict("既に社会保険の資格を取得しています", "喪失を登録してから再取得してください")
    now = ctx.clock.now()
    e = Enrolment(id=str(uuid.uuid4()), tenant_id=access.tenant_id, jigyosho_id=ref.jigyosho_id,
                  insured_person_id=body.insured_person_id, birth_date=body.birth_date,
                  acquired_on=body.acquired_on, lost_on=None, open_person=body.insured_person_id,
                  worker_type=body.worker_type.value,
                  kenpo=body.kenpo, kounen=body.kounen, created_at=now, updated_at=now)
    session.add(e)
    session.flush()
    due = deadlines.deadline(deadlines.Procedure.SHUTOKU, e.acquired_on, ctx.rules).due
    messaging.record(session, events.enrolment_created(e, actor, due.isoformat() if due else None))
    _new_grade(session, ctx, e, Month.of(body.acquired_on), body.remuneration, "shutoku", actor)
    return e


def lose(session: Session, ctx: ShahoContext, e: Enrolment, last_day: date, actor: Actor) -> Enrolment:
    """資格喪失 on leaving: 喪失日 = the day after the last day (§6.3)."""
    if e.lost_on is not None:
        raise conflict("既に資格を喪失しています", f"喪失日 {e.lost_on.isoformat()}")
    if last_day < e.acquired_on:
        raise invalid("last_day", "退職日が資格取得日より前です")
    e.lost_on = enrolment_rules.loss_date_on_leaving(last_day)
    e.open_person = None
    e.updated_at = ctx.clock.now()
    session.flush()
    due = deadlines.deadline(deadlines.Procedure.SOSHITSU, e.lost_on, ctx.rules).due
    messaging.record(session, events.enrolment_lost(e, actor, due.isoformat() if due else None))
    return e


def _premium_months_of(e: Enrolment, month: Month) -> bool:
    return month in premiums.premium_months(e.acquired_on, e.lost_on, through=month)


def add_grade(session: Session, ctx: ShahoContext, e: Enrolment, body: GradeIn, actor: Actor) -> StandardRemuneration:
    month = month_of(body.effective_from)
    if month < Month.of(e.acquired_on):
        raise invalid("effective_from", "資格取得月より前の月です")
    if e.lost_on is not None and not _premium_months_of(e, month):
        raise invalid("effective_from", "資格喪失後の月です")
    s = _new_grade(session, ctx, e, month, body.remuneration, body.reason, actor)
    e.updated_at = ctx.clock.now()
    return s


def premium(session: Session, ctx: ShahoContext, e: Enrolment, month: Month) -> PremiumOut:
    """The monthly premium of one enrolment for one premium month (DOMAIN-SHAHO.md §4)."""
    if not _premium_months_of(e, month):
        raise invalid("month", f"{month} は保険料の対象外です（資格取得月から喪失月の前月までの範囲にありません）")
    o = repository.office(session, e.tenant_id, e.jigyosho_id)
    if o is None:
        raise conflict("社会保険の事業所情報が登録されていません", "先に事業所整理記号・保険者を登録してください")
    s = repository.grade_in_force(session, e.id, month.first_day())
    if s is None:
        raise invalid("month", f"{month} に適用される標準報酬月額が決定されていません")
    return _premium_out(ctx, e, o, month, s.kenpo_standard, s.kounen_standard,
                        premiums.deduction_month(month, same_month=o.collection_timing == "same_month"))


def _premium_out(ctx: ShahoContext, e: Enrolment, o: ShahoOffice, month: Month, kenpo_base: int, kounen_base: int,
                 deducted_in: Month) -> PremiumOut:
    r = _health_rates(o, month)
    k, p = (kenpo_base if e.kenpo else None), (kounen_base if e.kounen else None)
    b = premiums.monthly_premium(month=month, kenpo_standard=k, kounen_standard=p, rates=r, birth_date=e.birth_date,
                                 mode=premiums.Rounding(o.rounding), settings=ctx.rules)
    return PremiumOut(month=str(month), deduction_month=str(deducted_in), kenpo_standard=k, kounen_standard=p,
                      health_rate=str(b.health_rate), kaigo=b.kaigo, health_total=str(b.health_total),
                      health_employee=b.health_employee, pension_total=str(b.pension_total),
                      pension_employee=b.pension_employee, employee_total=b.employee_total,
                      kyoshutsukin=str(b.kyoshutsukin))


# --- bonuses (DOMAIN-SHAHO.md §2, §11) -----------------------------------------------------------

def _bonus_outs(ctx: ShahoContext, e: Enrolment, o: ShahoOffice, rows: list[BonusRow]) -> list[BonusOut]:
    series = bonus_rules.bonus_series([(b.paid_on, b.amount) for b in rows], ctx.rules)
    out = []
    for s in series:
        month = Month.of(s.paid_on)
        out.append(BonusOut(
            paid_on=s.paid_on, month_total=s.amount, standard=s.standard, kenpo_standard_bonus=s.kenpo,
            kounen_standard_bonus=s.kounen, kenpo_fiscal_year_total=s.kenpo_cumulative,
            premium=_premium_out(ctx, e, o, month, s.kenpo, s.kounen, month),  # deducted from the bonus itself
            deadline=_deadline_out(deadlines.deadline(deadlines.Procedure.SHOYO, s.paid_on, ctx.rules))))
    return out


def _office_of(session: Session, e: Enrolment) -> ShahoOffice:
    o = repository.office(session, e.tenant_id, e.jigyosho_id)
    if o is None:
        raise conflict("社会保険の事業所情報が登録されていません", "先に事業所整理記号・保険者を登録してください")
    return o


def record_bonus(session: Session, ctx: ShahoContext, e: Enrolment, body: BonusIn, actor: Actor) -> BonusOut:
    """A 賞与 paid: stored, then the month's bases with the caps (健保 573万 per fiscal year, 厚年 150万
    per month) over every bonus of the person, the premium of the payment month and the 賞与支払届
    deadline (5 days). A bonus paid outside the premium months (e.g. in the 喪失 month) is refused."""
    month = Month.of(body.paid_on)
    if not _premium_months_of(e, month):
        raise invalid("paid_on", f"{month} は保険料の対象外です（資格取得月から喪失月の前月までの範囲にありません）")
    o = _office_of(session, e)
    session.add(BonusRow(id=str(uuid.uuid4()), tenant_id=e.tenant_id, enrolment_id=e.id, paid_on=body.paid_on,
                         amount=body.amount, created_at=ctx.clock.now()))
    e.updated_at = ctx.clock.now()  # serialises bonuses of one person (the version column)
    session.flush()
    fy = bonus_rules.fiscal_year(body.paid_on)
    rows = [b for b in repository.bonuses(session, e.id) if bonus_rules.fiscal_year(b.paid_on) == fy]
    this = next(x for x in _bonus_outs(ctx, e, o, rows) if Month.of(x.paid_on) == month)
    messaging.record(session, events.bonus_recorded(e, body.paid_on.isoformat(), this.kenpo_standard_bonus,
                                                    this.kounen_standard_bonus,
                                                    this.deadline.due.isoformat() if this.deadline.due else None,
                                                    actor))
    return this


def list_bonuses(session: Session, ctx: ShahoContext, e: Enrolment) -> list[BonusOut]:
    rows = list(repository.bonuses(session, e.id))
    return _bonus_outs(ctx, e, _office_of(session, e), rows) if rows else []


def _scheme_out(r: revision.SchemeRevision | None) -> SchemeRevisionOut | None:
    if r is None:
        return None
    return SchemeRevisionOut(current_grade=r.current.grade, new_grade=r.new.grade, new_standard=r.new.standard,
                             gap=r.gap, revised=r.revised, reason=r.reason)


def zuiji_check(session: Session, ctx: ShahoContext, e: Enrolment, body: ZuijiIn) -> ZuijiOut:
    """随時改定 check against the enrolment's 標準報酬月額 in force in the month before the change."""
    first = month_of(body.first_paid)
    if body.months is not None:
        months = [PayMonth(month_of(m.month), m.pay, m.base_days, m.retro_pay, m.partial_first_month, m.leave_pay)
                  for m in body.months]
    else:
        wanted = [first.plus(i).first_day() for i in range(3)]
        rows = session.scalars(select(PayMonthRow).where(PayMonthRow.enrolment_id == e.id,
                                                         PayMonthRow.month.in_(wanted))).all()
        if len(rows) != 3:
            raise invalid("months", f"{first} からの3か月の報酬が登録されていません")
        months = [PayMonth(Month.of(r.month), r.pay, r.base_days, r.retro_pay, r.partial_first_month, r.leave_pay)
                  for r in rows]
    current = repository.grade_in_force(session, e.id, first.first_day())
    if current is None:
        raise invalid("first_paid", f"{first} に適用される標準報酬月額が決定されていません")
    try:
        result = revision.zuiji_kaitei(
            first_paid=first, direction=revision.Direction(body.direction), worker=WorkerType(e.worker_type),
            current_kenpo_grade=current.kenpo_grade if e.kenpo else None,
            current_kounen_grade=current.kounen_grade if e.kounen else None,
            current_remuneration=current.remuneration, settings=ctx.rules, months=months)
    except ValueError as exc:
        raise invalid("months", str(exc)) from None
    return ZuijiOut(candidate=result.candidate, average=result.average,
                    effective_from=str(result.effective_from) if result.effective_from else None,
                    kenpo=_scheme_out(result.kenpo), kounen=_scheme_out(result.kounen), reason=result.reason)


# --- pay and the 定時決定 run --------------------------------------------------------------------

def put_pay(session: Session, ctx: ShahoContext, e: Enrolment, month: Month, body: PayIn) -> PayOut:
    if month < Month.of(e.acquired_on) or (e.lost_on is not None and month > Month.of(e.lost_on)):
        raise invalid("month", f"{month} は資格の期間外です")
    values = body.model_dump()
    row = session.scalars(select(PayMonthRow).where(PayMonthRow.enrolment_id == e.id,
                                                    PayMonthRow.month == month.first_day())).first()
    if row is None:
        session.add(PayMonthRow(id=str(uuid.uuid4()), tenant_id=e.tenant_id, enrolment_id=e.id,
                                month=month.first_day(), updated_at=ctx.clock.now(), **values))
    else:
        for k, v in values.items():
            setattr(row, k, v)
        row.updated_at = ctx.clock.now()
    session.flush()
    return PayOut(month=str(month), **values)


def teiji_summary(session: Session, tenant_id: str, run: TeijiRun, jigyosho_ids: frozenset[str] | None
                  ) -> list[TeijiSummary]:
    """Per 事業所: how many decided, excluded, kept at the 従前 amount, flagged, and moved up or down."""
    r = TeijiResultRow

    def count(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    q = (select(r.jigyosho_id, count(r.status == "decided"), count(r.status == "excluded"),
                count(r.kept_previous.is_(True)), count(r.flagged.is_(True)),
                count(r.kenpo_grade > r.old_kenpo_grade), count(r.kenpo_grade < r.old_kenpo_grade))
         .where(r.tenant_id == tenant_id, r.year == run.year).group_by(r.jigyosho_id).order_by(r.jigyosho_id))
    if run.jigyosho_ids is not None:
        q = q.where(r.jigyosho_id.in_(run.jigyosho_ids))
    if jigyosho_ids is not None:
        q = q.where(r.jigyosho_id.in_(jigyosho_ids))
    return [TeijiSummary(jigyosho_id=jid, decided=int(d or 0), excluded=int(x or 0), kept_previous=int(k or 0),
                         flagged=int(f or 0), kenpo_up=int(u or 0), kenpo_down=int(dn or 0))
            for jid, d, x, k, f, u, dn in session.execute(q).all()]


def teiji_results(session: Session, tenant_id: str, run: TeijiRun, jigyosho_id: str | None,
                  jigyosho_ids: frozenset[str] | None, limit: int, offset: int) -> TeijiResultPage:
    r = TeijiResultRow
    q = select(r).where(r.tenant_id == tenant_id, r.year == run.year)
    if run.jigyosho_ids is not None:
        q = q.where(r.jigyosho_id.in_(run.jigyosho_ids))
    if jigyosho_ids is not None:
        q = q.where(r.jigyosho_id.in_(jigyosho_ids))
    if jigyosho_id is not None:
        q = q.where(r.jigyosho_id == jigyosho_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(r.jigyosho_id, r.enrolment_id).limit(limit).offset(offset)).all()
    return TeijiResultPage(items=[TeijiResultOut.model_validate(x, from_attributes=True) for x in rows],
                           total=total, limit=limit, offset=offset)
