"""Events the jimukumiai service publishes (schemas in contracts/events/).

Ids, amounts and dates only: no bank accounts, no names of 特別加入者 (people), no wages of
individuals (there are none: wages here are a business's totals)."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.jimukumiai.models import Member, SpecialEnrolment
from shared.events import Actor, EventEnvelope

MEMBER_ENTRUSTED = "roumu.jimukumiai.member.entrusted"  # the member joined
MEMBER_LEFT = "roumu.jimukumiai.member.left"
CLIENT_REGISTERED = "roumu.jimukumiai.client.registered"  # a client employer of the office (issue 25)
CLIENT_LEFT = "roumu.jimukumiai.client.left"
SPECIAL_ENROLMENT_CHANGED = "roumu.jimukumiai.special_enrolment.changed"
RENEWAL_COMPUTED = "roumu.jimukumiai.renewal.computed"
INSTALLMENT_DUE = "roumu.jimukumiai.installment.due"
PAYMENT_RECORDED = "roumu.jimukumiai.payment.recorded"
INCREASE_ESTIMATE_BOOKED = "roumu.jimukumiai.increase_estimate.booked"
BOOK_EXPORTED = "roumu.jimukumiai.book.exported"


def _member_subject(m: Member) -> dict[str, str]:
    return {"member_id": m.id, "tenant_id": m.tenant_id, "jigyosho_id": m.jigyosho_id}


def member_entrusted(m: Member, actor: Actor) -> EventEnvelope:
    # The 労働保険番号 and the employer's name identify a business, not a person: facts, not secrets.
    return EventEnvelope(
        type=MEMBER_ENTRUSTED, tenant_id=m.tenant_id, actor=actor, subject=_member_subject(m),
        data={"name": m.name, "labour_insurance_number": m.labour_insurance_number,
              "entrusted_from": m.entrusted_from.isoformat(), "status": m.status},
    )


def client_registered(m: Member, actor: Actor) -> EventEnvelope:
    """A client employer of the 社労士 office (not a 委託事業主) was registered."""
    return EventEnvelope(
        type=CLIENT_REGISTERED, tenant_id=m.tenant_id, actor=actor, subject=_member_subject(m),
        data={"name": m.name, "labour_insurance_number": m.labour_insurance_number,
              "client_from": m.entrusted_from.isoformat(), "status": m.status},
    )


def member_left(m: Member, actor: Actor) -> EventEnvelope:
    """委託解除 of a 委託事業主; for a client of the office (issue 25) roumu.jimukumiai.client.left."""
    assert m.entrusted_until is not None
    if m.kind == "client":
        return EventEnvelope(
            type=CLIENT_LEFT, tenant_id=m.tenant_id, actor=actor, subject=_member_subject(m),
            data={"labour_insurance_number": m.labour_insurance_number,
                  "client_until": m.entrusted_until.isoformat(), "status": m.status})
    return EventEnvelope(
        type=MEMBER_LEFT, tenant_id=m.tenant_id, actor=actor, subject=_member_subject(m),
        data={"labour_insurance_number": m.labour_insurance_number, "entrusted_until": m.entrusted_until.isoformat(),
              "status": m.status},
    )


def special_enrolment_changed(m: Member, e: SpecialEnrolment, change: str, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=SPECIAL_ENROLMENT_CHANGED, tenant_id=m.tenant_id, actor=actor,
        subject={"special_enrolment_id": e.id, "tenant_id": m.tenant_id, "member_id": m.id},
        data={"change": change, "role": e.role, "daily_amount": e.daily_amount, "joined_on": e.joined_on.isoformat(),
              "left_on": e.left_on.isoformat() if e.left_on else None},
    )


def renewal_computed(tenant_id: str, member_id: str, renewal_id: str, run_id: str, fiscal_year: int,
                     summary: dict[str, Any], actor: Actor, member_kind: str = "entrusted") -> EventEnvelope:
    """`member_kind`: entrusted (the association's run) or client (the office's run, issue 25)."""
    return EventEnvelope(
        type=RENEWAL_COMPUTED, tenant_id=tenant_id, actor=actor,
        subject={"renewal_id": renewal_id, "tenant_id": tenant_id, "member_id": member_id, "run_id": run_id},
        data={"fiscal_year": fiscal_year, "member_kind": member_kind, **summary},
    )


def installment_due(tenant_id: str, member_id: str, entry_id: str, fiscal_year: int, period: int | None,
                    amount: int, due_on: date, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=INSTALLMENT_DUE, tenant_id=tenant_id, actor=actor,
        subject={"ledger_entry_id": entry_id, "tenant_id": tenant_id, "member_id": member_id},
        data={"fiscal_year": fiscal_year, "period": period, "amount": amount, "due_on": due_on.isoformat()},
    )


def payment_recorded(tenant_id: str, member_id: str, entry_id: str, fiscal_year: int, kind: str,
                     period: int | None, amount: int, occurred_on: date, reverses: str | None,
                     actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=PAYMENT_RECORDED, tenant_id=tenant_id, actor=actor,
        subject={"ledger_entry_id": entry_id, "tenant_id": tenant_id, "member_id": member_id},
        data={"fiscal_year": fiscal_year, "kind": kind, "period": period, "amount": amount,
              "occurred_on": occurred_on.isoformat(), "reverses_entry_id": reverses},
    )


def increase_estimate_booked(m: Member, entry_id: str, fiscal_year: int, increase: int, new_estimate: int,
                             filed_estimate: int, expected_on: date, due_on: date, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=INCREASE_ESTIMATE_BOOKED, tenant_id=m.tenant_id, actor=actor,
        subject={**_member_subject(m), "ledger_entry_id": entry_id},
        data={"fiscal_year": fiscal_year, "increase": increase, "new_estimate": new_estimate,
              "filed_estimate": filed_estimate, "expected_on": expected_on.isoformat(),
              "due_on": due_on.isoformat()},
    )


def book_exported(tenant_id: str, actor: Actor, book: str, since: date, until: date, jigyosho_id: str | None,
                  rows: int, complete: bool) -> EventEnvelope:
    """A statutory book exported (operation log): which book and range, how many rows; never the rows."""
    subject = {"tenant_id": tenant_id, **({"jigyosho_id": jigyosho_id} if jigyosho_id else {})}
    return EventEnvelope(type=BOOK_EXPORTED, tenant_id=tenant_id, actor=actor, subject=subject,
                         data={"book": book, "from": since.isoformat(), "to": until.isoformat(), "rows": rows,
                               "complete": complete})
