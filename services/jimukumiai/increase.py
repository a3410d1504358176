"""増加概算保険料 entered in the 徴収及び納付簿: a member's wage estimate for a year rose so much
after the 概算 was filed that an extra 概算 is due (徴収法16条, 則25条; DOMAIN.md B7).

The bases the filed 概算 used and its amount come from the member's 年度更新 of that year (the
run's stored result); the rule itself is `rules.nendo_koshin.increase_estimate`, the calculator's.
When due, one owed entry of kind `increase_estimate` is added, due 30 days from the day after the
increase was expected (moved to a business day), and `roumu.jimukumiai.increase_estimate.booked`
is published. When not due, nothing is written and the answer says why.

Not done: paying a 増加概算 in installments. 法18条 allows it for a member whose 概算 was 延納, but
how it is split over the remaining 期 (則30条) is not in DOMAIN.md and was not confirmed from a
source here, so the whole amount is owed at once — the lump sum is always a lawful way to pay.
A second 増加概算 in the same year would need the bases of the first as its starting point, which
the ledger does not keep: it is refused (reverse the first and book the combined increase)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.jimukumiai import events
from services.jimukumiai.models import LedgerEntry, Member, Renewal, messaging
from services.jimukumiai.rules.nendo_koshin import IncreaseEstimate, increase_estimate
from services.jimukumiai.rules.rates import KoyoKubun
from shared.errors import ProblemError
from shared.events import Actor

KIND = "increase_estimate"


@dataclass(frozen=True)
class Booked:
    computed: IncreaseEstimate
    entry: LedgerEntry | None  # None: not due, nothing written


def _renewal(session: Session, member: Member, fiscal_year: int) -> Renewal:
    row = session.execute(select(Renewal).where(Renewal.tenant_id == member.tenant_id,
                                                Renewal.member_id == member.id,
                                                Renewal.fiscal_year == fiscal_year)).scalar_one_or_none()
    if row is None:
        raise ProblemError(409, "no-renewal", "この年度の概算保険料（年度更新）がありません",
                           f"{fiscal_year}年度の年度更新を先に行ってください: 増加概算は申告済の概算と比べて判定します")
    return row


def _already_booked(session: Session, member: Member, fiscal_year: int) -> bool:
    rows = session.execute(select(LedgerEntry.id, LedgerEntry.reverses_id).where(
        LedgerEntry.tenant_id == member.tenant_id, LedgerEntry.member_id == member.id,
        LedgerEntry.fiscal_year == fiscal_year, LedgerEntry.kind == KIND)).all()
    reversed_ids = {r.reverses_id for r in rows if r.reverses_id}
    return any(r.reverses_id is None and r.id not in reversed_ids for r in rows)


def _lock_member(session: Session, member: Member) -> None:
    """Take the member's row lock before looking for an earlier booking: parallel bookings of one
    member queue here, so the second sees the first's entry (PostgreSQL; SQLite serialises writers
    at BEGIN). Without it ten requests at once all found none and booked ten (issue 29)."""
    session.execute(select(Member.id).where(Member.tenant_id == member.tenant_id, Member.id == member.id)
                    .with_for_update())


def book(session: Session, member: Member, fiscal_year: int, new_rousai_wages: int | None,
         new_koyo_wages: int | None, expected_on: date, actor: Actor, on: date) -> Booked:
    _lock_member(session, member)
    renewal = _renewal(session, member, fiscal_year)
    estimate = renewal.result["estimate"]
    try:
        computed = increase_estimate(
            fiscal_year, member.rousai_code, KoyoKubun(member.koyo_kubun) if member.koyo_kubun else None,
            used_rousai_base=int(estimate["rousai_base"]), used_koyo_base=int(estimate["koyo_base"]),
            filed_estimate=int(renewal.estimate_total), new_rousai_wages=new_rousai_wages,
            new_koyo_wages=new_koyo_wages, expected_on=expected_on, special_base=int(estimate["special_base"]))
    except LookupError as exc:
        raise ProblemError(422, "rate-not-found", "指定された年度の保険料率が登録されていません", str(exc)) from exc
    if not computed.due:
        return Booked(computed, None)
    if _already_booked(session, member, fiscal_year):
        raise ProblemError(409, "increase-already-booked", "この年度の増加概算保険料は既に記帳されています",
                           "2回目の増加概算は1回目の基礎額から判定する必要があります: "
                           "1回目を取り消して合計で記帳してください")
    assert computed.deadline is not None
    new = computed.new_estimate
    entry = LedgerEntry(id=str(uuid.uuid4()), tenant_id=member.tenant_id, member_id=member.id,
                        fiscal_year=fiscal_year, kind=KIND, period=None, amount=computed.increase,
                        due_on=computed.deadline, occurred_on=on, reverses_id=None, renewal_id=renewal.id,
                        note=(f"増加概算: {expected_on.isoformat()} に増加見込み; "
                              f"算定基礎額 労災 {new.rousai_base:,} 円 / 雇用 {new.koyo_base:,} 円"),
                        created_at=datetime.now(UTC), actor_id=actor.id)
    session.add(entry)
    session.flush()
    messaging.record(session, events.increase_estimate_booked(
        member, entry.id, fiscal_year, computed.increase, new.total, computed.filed_estimate, expected_on,
        computed.deadline, actor))
    return Booked(computed, entry)
