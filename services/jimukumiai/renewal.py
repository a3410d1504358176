"""Use cases of the 年度更新 run and the 徴収及び納付簿 (ledger).

There are two runs per tenant and year, one per kind of member (issue 25): the association's
(`entrusted`, its 委託事業主: 延納 always, 2nd and 3rd installments 11/14 and 2/14) and the
社労士 office's (`client`, employers outside the association: 延納 only from 400,000 円, or
200,000 円 with one insurance, due 7/10, 10/31, 1/31). A run reads and writes members of its own
kind only, and each kind has its own one-unfinished-run lock, so neither run touches or waits on
the other's members.

The run reads every member of the tenant and kind served for the fiscal year, their wages of the past
year (wage_reports) and 特別加入 spans, computes each with rules.nendo_koshin.renew — the same call
as the calculator — and writes per member, in chunks of one transaction each: the result
(renewals), the amounts owed per period and the facts of the settlement (ledger_entries), and one
roumu.jimukumiai.renewal.computed event. A member already renewed for the year is left alone, so
a run interrupted half-way is finished by running it again; a correction is a reversal in the
ledger, never an edit."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.jimukumiai import events
from services.jimukumiai.calculator_schemas import RenewalOut
from services.jimukumiai.models import (
    Base,
    DueNotice,
    LedgerEntry,
    Member,
    Renewal,
    RenewalRun,
    SpecialEnrolment,
    WageReport,
    messaging,
)
from services.jimukumiai.rules import hoshokin
from services.jimukumiai.rules.nendo_koshin import ExcessUse, RenewalInput, RenewalResult, renew
from services.jimukumiai.rules.rates import KoyoKubun, RateNotFound
from services.jimukumiai.rules.tokubetsu_kanyu import SpecialEnrolment as SpecialSpan
from shared.db import insert_unless_present
from shared.errors import ProblemError, not_found
from shared.events import Actor, EventEnvelope

CHUNK = 1000
OWED_KINDS = ("estimate", "shortage", "general_contribution", "increase_estimate")
MONEY_KINDS = ("collected", "paid_to_state", "refund_received", "refund_paid")
ALREADY_REVERSED = ProblemError(409, "already-reversed", "この記帳は既に取り消されています")


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What the run reads of a member: columns, not ORM objects (a run holds every member at once)."""

    id: str
    rousai_code: str | None
    koyo_kubun: str | None
    established_on: date | None
    kind: str = "entrusted"


@dataclass(frozen=True, slots=True)
class WageFacts:
    """What the run reads of a member's wage report of the past year."""

    rousai_wages: int
    koyo_wages: int
    paid_estimate: int | None
    estimated_rousai_wages: int | None
    estimated_koyo_wages: int | None
    excess_use: str
    installments_requested: bool


@dataclass(frozen=True, slots=True)
class Prepared:
    """One member's renewal input, read in bulk."""

    member: MemberFacts
    wages: WageFacts | None
    spans: tuple[SpecialSpan, ...]
    previous_estimate: int | None  # the 概算 of the last run (the default 申告済概算)


def members_for_year(session: Session, tenant_id: str, fiscal_year: int, kind: str = "entrusted"
                     ) -> list[MemberFacts]:
    """Members of `kind` entrusted (or served) at some point between 4/1 and the 7/10 deadline of the year."""
    return [MemberFacts(*row) for row in session.execute(select(
        Member.id, Member.rousai_code, Member.koyo_kubun, Member.established_on, Member.kind).where(
        Member.tenant_id == tenant_id, Member.kind == kind, Member.entrusted_from <= date(fiscal_year, 7, 10),
        or_(Member.entrusted_until.is_(None), Member.entrusted_until >= date(fiscal_year, 4, 1)),
    ).order_by(Member.id))]


def prepare(session: Session, tenant_id: str, fiscal_year: int, members: Sequence[MemberFacts]) -> list[Prepared]:
    """Each member's wages, 特別加入 spans and last 概算: one query per table for the whole tenant,
    kept for the members asked about. (Chunks of `member_id IN (…1,000 ids)` cost a scan of the
    tenant's index entries each on PostgreSQL, the list compared element by element: time grew
    with members² — 266 s for 100,000.)"""
    wanted = {m.id for m in members}
    wages: dict[str, WageFacts] = {}
    spans: dict[str, list[SpecialSpan]] = defaultdict(list)
    previous: dict[str, int] = {}
    for w in session.execute(select(
            WageReport.member_id, WageReport.rousai_wages, WageReport.koyo_wages, WageReport.paid_estimate,
            WageReport.estimated_rousai_wages, WageReport.estimated_koyo_wages, WageReport.excess_use,
            WageReport.installments_requested).where(
            WageReport.tenant_id == tenant_id, WageReport.fiscal_year == fiscal_year - 1)):
        if w.member_id in wanted:
            wages[w.member_id] = WageFacts(w.rousai_wages, w.koyo_wages, w.paid_estimate, w.estimated_rousai_wages,
                                           w.estimated_koyo_wages, w.excess_use, w.installments_requested)
    for member_id, daily_amount, joined_on, left_on in session.execute(select(
            SpecialEnrolment.member_id, SpecialEnrolment.daily_amount, SpecialEnrolment.joined_on,
            SpecialEnrolment.left_on).where(SpecialEnrolment.tenant_id == tenant_id)):
        if member_id in wanted:
            spans[member_id].append(SpecialSpan(daily_amount, joined_on, left_on))
    for member_id, total in session.execute(select(Renewal.member_id, Renewal.estimate_total).where(
            Renewal.tenant_id == tenant_id, Renewal.fiscal_year == fiscal_year - 1)):
        if member_id in wanted:
            previous[member_id] = total
    return [Prepared(m, wages.get(m.id), tuple(spans.get(m.id, ())), previous.get(m.id)) for m in members]


def renewal_input(p: Prepared, fiscal_year: int, shift_fixed_dates: bool) -> RenewalInput:
    m, w = p.member, p.wages
    if w is None:
        raise ValueError("no wages of the past year")
    paid = w.paid_estimate if w.paid_estimate is not None else p.previous_estimate
    new_business = m.established_on is not None and m.established_on >= date(fiscal_year, 4, 1)
    if paid is None and not new_business:
        raise ValueError("no 申告済概算: enter it with the wages, or renew the past year first")
    return RenewalInput(
        fiscal_year=fiscal_year, rousai_code=m.rousai_code,
        koyo_kubun=KoyoKubun(m.koyo_kubun) if m.koyo_kubun else None,
        rousai_wages=w.rousai_wages, koyo_wages=w.koyo_wages, paid_estimate=paid or 0,
        estimated_rousai_wages=w.estimated_rousai_wages, estimated_koyo_wages=w.estimated_koyo_wages,
        special=p.spans, excess_use=ExcessUse(w.excess_use), entrusted=m.kind == "entrusted",
        installments_requested=w.installments_requested, established_on=m.established_on,
        shift_fixed_dates=shift_fixed_dates)


def ledger_rows(tenant_id: str, member_id: str, renewal_id: str, r: RenewalResult, on: date, actor_id: str,
                now: datetime) -> list[dict[str, Any]]:
    """What a renewal enters in the 徴収及び納付簿."""
    past = r.fiscal_year - 1
    rows: list[dict[str, Any]] = []

    def add(fy: int, kind: str, amount: int, period: int | None = None, due: date | None = None) -> None:
        rows.append({"id": str(uuid.uuid4()), "tenant_id": tenant_id, "member_id": member_id, "fiscal_year": fy,
                     "kind": kind, "period": period, "amount": amount, "due_on": due, "occurred_on": on,
                     "reverses_id": None, "renewal_id": renewal_id, "note": None, "created_at": now,
                     "actor_id": actor_id})

    s = r.settlement
    if r.confirmed is not None:
        add(past, "confirmed", r.confirmed.total)
    first_due = r.plan.installments[0].due_on
    if s.shortage:
        add(past, "shortage", s.shortage, 1, first_due)
    if r.general_contribution_due:
        add(past, "general_contribution", r.general_contribution_due, 1, first_due)
    if s.applied_to_premium or s.applied_to_general_contribution:
        add(past, "appropriated", s.applied_to_premium + s.applied_to_general_contribution)
    if s.refund:
        add(past, "refund_claimed", s.refund)
    for i in r.plan.installments:
        if i.premium - i.appropriated:
            add(r.fiscal_year, "estimate", i.premium - i.appropriated, i.number, i.due_on)
    return rows


def summary(r: RenewalResult) -> dict[str, Any]:
    s = r.settlement
    return {"confirmed_total": r.confirmed.total if r.confirmed else None,
            "general_contribution": r.general_contribution, "estimate_total": r.estimate.total,
            "shortage": s.shortage, "excess": s.excess, "applied_to_premium": s.applied_to_premium,
            "applied_to_general_contribution": s.applied_to_general_contribution, "refund": s.refund,
            "filing_deadline": r.filing_deadline.isoformat(),
            "installments": [{"number": i.number, "amount_due": i.amount_due, "due_on": i.due_on.isoformat()}
                             for i in r.plan.installments]}


def _outbox_row(event: EventEnvelope, now: datetime) -> dict[str, Any]:
    # The same row Messaging.record writes, for many events in one statement.
    return {"event_id": event.id, "subject": event.type, "aggregate_id": event.aggregate_id[:64],
            "payload": event.model_dump(mode="json"), "created_at": now, "attempts": 0}


def compute_all(prepared: Iterable[Prepared], fiscal_year: int, shift: bool
                ) -> Iterator[tuple[Prepared, RenewalResult | None, str | None]]:
    """The pure part of the run: each member's renewal, or why it was skipped."""
    for p in prepared:
        try:
            yield p, renew(renewal_input(p, fiscal_year, shift)), None
        except RateNotFound as exc:
            yield p, None, str(exc)
        except ValueError as exc:
            yield p, None, str(exc)


def in_progress(run_id: str | None) -> ProblemError:
    return ProblemError(409, "renewal-run-in-progress", "この年度の年度更新は実行中です",
                        "実行中の年度更新が終わってから再度実行してください (run_id の状態を確認できます)",
                        extra={"run_id": run_id} if run_id else None)


def _running(session: Session, tenant_id: str, fiscal_year: int, kind: str) -> RenewalRun | None:
    return session.execute(select(RenewalRun).where(
        RenewalRun.tenant_id == tenant_id, RenewalRun.fiscal_year == fiscal_year, RenewalRun.kind == kind,
        RenewalRun.finished_at.is_(None)).with_for_update()).scalar_one_or_none()


def _close_if_stale(session: Session, tenant_id: str, fiscal_year: int, kind: str, now: datetime,
                    stale_after: timedelta) -> None:
    """A running run of the year answers 409, unless its process stopped beating (it died
    half-way): then it is closed here, and this run finishes its members."""
    running = _running(session, tenant_id, fiscal_year, kind)
    if running is None:
        return
    if now - (running.heartbeat_at or running.started_at) < stale_after:
        raise in_progress(running.id)
    running.finished_at = now
    session.flush()


def _begin(transaction: Callable[[], AbstractContextManager[Session]], tenant_id: str, fiscal_year: int,
           run_id: str, actor: Actor, now: datetime, stale_after: timedelta, kind: str = "entrusted"
           ) -> tuple[list[Prepared], int]:
    """Register the run first, then read what it has to do: the partial unique index
    uq_renewal_runs_running admits one unfinished run per tenant, year and kind, so a second run waits
    on the first's insert and is refused (409 with the running run's id), and a run that starts
    after another finished reads that one's renewals."""
    try:
        with transaction() as session:
            _close_if_stale(session, tenant_id, fiscal_year, kind, now, stale_after)
            session.add(RenewalRun(id=run_id, tenant_id=tenant_id, fiscal_year=fiscal_year, kind=kind, started_at=now,
                                   computed=0, already_renewed=0, skipped=[], actor_id=actor.id, heartbeat_at=now))
            session.flush()
            members = members_for_year(session, tenant_id, fiscal_year, kind)
            done = set(session.execute(select(Renewal.member_id).where(
                Renewal.tenant_id == tenant_id, Renewal.fiscal_year == fiscal_year)).scalars())
            todo = [m for m in members if m.id not in done]
            prepared = prepare(session, tenant_id, fiscal_year, todo)
            row = session.get(RenewalRun, run_id)
            assert row is not None
            row.already_renewed = len(members) - len(todo)
            return prepared, len(members) - len(todo)
    except IntegrityError:
        # Another run of the year inserted its row first (and may still be running).
        with transaction() as session:
            running = _running(session, tenant_id, fiscal_year, kind)
        raise in_progress(running.id if running else None) from None


def run(transaction: Callable[[], AbstractContextManager[Session]], tenant_id: str, fiscal_year: int, actor: Actor,
        on: date, shift: bool, chunk: int = CHUNK, stale_after: timedelta = timedelta(minutes=15),
        kind: str = "entrusted") -> RenewalRun:
    """The 年度更新 run of a tenant's members of `kind` for a fiscal year (see the module
    docstring); one at a time per tenant, year and kind (409 `renewal-run-in-progress` otherwise)."""
    now = datetime.now(UTC)
    run_id = str(uuid.uuid4())
    prepared, _ = _begin(transaction, tenant_id, fiscal_year, run_id, actor, now, stale_after, kind)
    computed = 0
    skipped: list[dict[str, str]] = []
    try:
        for start in range(0, len(prepared), chunk):
            renewals: list[dict[str, Any]] = []
            entries: list[dict[str, Any]] = []
            outbox: list[dict[str, Any]] = []
            for p, result, reason in compute_all(prepared[start:start + chunk], fiscal_year, shift):
                if result is None:
                    skipped.append({"member_id": p.member.id, "reason": reason or ""})
                    continue
                renewal_id = str(uuid.uuid4())
                renewals.append({"id": renewal_id, "tenant_id": tenant_id, "member_id": p.member.id,
                                 "run_id": run_id, "fiscal_year": fiscal_year,
                                 "estimate_total": result.estimate.total,
                                 "result": RenewalOut.model_validate(result).model_dump(mode="json"),
                                 "created_at": now})
                entries += ledger_rows(tenant_id, p.member.id, renewal_id, result, on, actor.id, now)
                outbox.append(_outbox_row(events.renewal_computed(tenant_id, p.member.id, renewal_id, run_id,
                                                                  fiscal_year, summary(result), actor, kind), now))
            if renewals:
                # Core inserts on the tables: one multi-row INSERT per batch (insertmanyvalues), where
                # the ORM's bulk path would send a statement per row on PostgreSQL.
                with transaction() as session:
                    session.execute(insert(Base.metadata.tables["renewals"]), renewals)
                    session.execute(insert(Base.metadata.tables["ledger_entries"]), entries)
                    session.execute(insert(messaging.outbox), outbox)
                    session.execute(update(RenewalRun).where(RenewalRun.id == run_id)
                                    .values(heartbeat_at=datetime.now(UTC)))
                computed += len(renewals)
    finally:
        # Finished, or failed half-way: either way the run no longer blocks the year (its
        # members renewed so far stay; running again finishes the rest).
        with transaction() as session:
            row = session.get(RenewalRun, run_id)
            assert row is not None
            row.computed, row.skipped, row.finished_at = computed, skipped, datetime.now(UTC)
    return row


# --- the ledger -----------------------------------------------------------------------------

def entries(session: Session, tenant_id: str, member_id: str, fiscal_year: int | None = None
            ) -> Sequence[LedgerEntry]:
    where = [LedgerEntry.tenant_id == tenant_id, LedgerEntry.member_id == member_id]
    if fiscal_year is not None:
        where.append(LedgerEntry.fiscal_year == fiscal_year)
    return session.execute(select(LedgerEntry).where(*where).order_by(
        LedgerEntry.fiscal_year, LedgerEntry.created_at, LedgerEntry.id)).scalars().all()


def record_money(session: Session, member: Member, kind: str, fiscal_year: int, period: int | None, amount: int,
                 occurred_on: date, note: str | None, actor: Actor) -> LedgerEntry:
    if kind not in MONEY_KINDS:
        raise ValueError(kind)
    entry = LedgerEntry(id=str(uuid.uuid4()), tenant_id=member.tenant_id, member_id=member.id,
                        fiscal_year=fiscal_year, kind=kind, period=period, amount=amount, due_on=None,
                        occurred_on=occurred_on, reverses_id=None, renewal_id=None, note=note,
                        created_at=datetime.now(UTC), actor_id=actor.id)
    session.add(entry)
    session.flush()
    messaging.record(session, events.payment_recorded(member.tenant_id, member.id, entry.id, fiscal_year, kind,
                                                      period, amount, occurred_on, None, actor))
    return entry


def reverse(session: Session, tenant_id: str, entry_id: str, occurred_on: date, note: str | None,
            actor: Actor, allowed: Callable[[str], bool]) -> LedgerEntry:
    """A correction: a new entry of the same kind with the opposite amount. The original stays."""
    # The row lock queues parallel reversals of one entry, so the second finds the first's
    # reversal; uq_ledger_entries_reverses_id is the backstop (both answer the repeat's 409).
    original = session.execute(select(LedgerEntry).where(
        LedgerEntry.tenant_id == tenant_id, LedgerEntry.id == entry_id).with_for_update()).scalar_one_or_none()
    if original is None or not allowed(original.member_id):
        raise not_found()
    if original.reverses_id is not None:
        raise ProblemError(409, "reversal-of-reversal", "取消の記帳は取り消せません",
                           "正しい金額で新たに記帳してください")
    taken = session.execute(select(LedgerEntry.id).where(LedgerEntry.reverses_id == original.id)).first()
    if taken:
        raise ALREADY_REVERSED
    entry = LedgerEntry(id=str(uuid.uuid4()), tenant_id=tenant_id, member_id=original.member_id,
                        fiscal_year=original.fiscal_year, kind=original.kind, period=original.period,
                        amount=-original.amount, due_on=original.due_on, occurred_on=occurred_on,
                        reverses_id=original.id, renewal_id=original.renewal_id, note=note,
                        created_at=datetime.now(UTC), actor_id=actor.id)
    session.add(entry)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ALREADY_REVERSED from exc
    messaging.record(session, events.payment_recorded(tenant_id, original.member_id, entry.id, original.fiscal_year,
                                                      "reversal", original.period, entry.amount, occurred_on,
                                                      original.id, actor))
    return entry


@dataclass(frozen=True)
class Outstanding:
    entry_id: str
    fiscal_year: int
    kind: str
    period: int | None
    due_on: date
    amount: int  # still unpaid


def outstanding(session: Session, tenant_id: str, member_ids: Iterable[str] | None, as_of: date | None
                ) -> dict[str, list[Outstanding]]:
    """Owed entries not yet covered by what was collected, per member: collections pay the oldest
    due first (FIFO). `as_of`: only what fell due by then."""
    where = [LedgerEntry.tenant_id == tenant_id]
    if member_ids is not None:
        where.append(LedgerEntry.member_id.in_(sorted(member_ids)))
    rows = session.execute(select(LedgerEntry.id, LedgerEntry.member_id, LedgerEntry.fiscal_year, LedgerEntry.kind,
                                  LedgerEntry.period, LedgerEntry.due_on, LedgerEntry.amount,
                                  LedgerEntry.reverses_id).where(
        *where, LedgerEntry.kind.in_((*OWED_KINDS, "collected")))).all()
    owed: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    collected: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.kind == "collected":
            collected[r.member_id] += r.amount
        elif r.reverses_id is None:
            owed[r.member_id][r.id] = [r.fiscal_year, r.kind, r.period, r.due_on, r.amount]
    for r in rows:  # a reversed owed entry owes less
        if r.kind != "collected" and r.reverses_id is not None and r.reverses_id in owed[r.member_id]:
            owed[r.member_id][r.reverses_id][4] += r.amount
    out: dict[str, list[Outstanding]] = {}
    for member_id, items in owed.items():
        paid = collected[member_id]
        left: list[Outstanding] = []
        for entry_id, (fy, kind, period, due, amount) in sorted(items.items(), key=lambda kv: (kv[1][3], kv[1][2] or 0,
                                                                                              kv[0])):
            covered = min(max(paid, 0), amount)
            paid -= covered
            if amount - covered > 0 and (as_of is None or due <= as_of):
                left.append(Outstanding(entry_id, fy, kind, period, due, amount - covered))
        if left:
            out[member_id] = left
    return out


def notify_due(session: Session, tenant_id: str, as_of: date, horizon_days: int, actor: Actor) -> int:
    """installment.due for each owed entry of a 委託事業主 falling due within [as_of, as_of + horizon]
    with something unpaid, once per entry. The office's clients (issue 25) pay the state
    themselves: the association collects nothing from them, so they are not dunned here."""
    until = as_of + timedelta(days=horizon_days)
    pending = outstanding(session, tenant_id, None, until)
    for client in session.execute(select(Member.id).where(Member.tenant_id == tenant_id,
                                                          Member.kind != "entrusted")).scalars():
        pending.pop(client, None)
    notified = set(session.execute(select(DueNotice.entry_id).where(DueNotice.tenant_id == tenant_id)).scalars())
    now = datetime.now(UTC)
    count = 0
    for member_id, items in pending.items():
        for o in items:
            if o.due_on < as_of or o.entry_id in notified or not _claim_notice(session, tenant_id, o.entry_id, now):
                continue
            messaging.record(session, events.installment_due(tenant_id, member_id, o.entry_id, o.fiscal_year,
                                                             o.period, o.amount, o.due_on, actor))
            count += 1
    return count


def _claim_notice(session: Session, tenant_id: str, entry_id: str, now: datetime) -> bool:
    """Insert the entry's due notice unless one exists: True when this call inserted it. A notice
    run beside another waits on the other's row and then skips it (no second event, no
    primary-key 500 as when every run read "not notified" and inserted)."""
    return insert_unless_present(session, Base.metadata.tables["due_notices"],
                                 {"entry_id": entry_id, "tenant_id": tenant_id, "notified_at": now}, ["entry_id"])


def reward_estimate(session: Session, tenant_id: str, fiscal_year: int, shift: bool) -> hoshokin.RewardEstimate:
    """報奨金 for `fiscal_year` from the ledger: each counted member's 確定 of the year before, and
    what was collected for that year by 7/10 less the 一般拠出金 owed for it [導出: the ledger does
    not split a collection between premium and 一般拠出金]."""
    past = fiscal_year - 1
    judged = date(fiscal_year, 7, 10)
    members = session.execute(select(Member).where(Member.tenant_id == tenant_id,
                                                    Member.kind == "entrusted")).scalars().all()
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for member_id, kind, amount in session.execute(select(
            LedgerEntry.member_id, LedgerEntry.kind, func.sum(LedgerEntry.amount)).where(
            LedgerEntry.tenant_id == tenant_id, LedgerEntry.fiscal_year == past,
            or_(LedgerEntry.kind.in_(("confirmed", "general_contribution")),
                and_(LedgerEntry.kind == "collected", LedgerEntry.occurred_on <= judged)),
    ).group_by(LedgerEntry.member_id, LedgerEntry.kind)).all():
        sums[(member_id, kind)] = int(amount or 0)
    rows = []
    for m in members:
        due = sums[(m.id, "confirmed")]
        if not due or m.regular_workers is None:
            continue
        paid = max(0, sums[(m.id, "collected")] - sums[(m.id, "general_contribution")])
        rows.append(hoshokin.MemberCollection(m.regular_workers, bool(m.rousai_code and m.koyo_kubun), due, paid))
    return hoshokin.estimate(fiscal_year, rows, shift_fixed_dates=shift)
