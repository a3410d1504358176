"""The retention job: delete the lines of the three books whose period is over (rules/retention.py),
and only those. One transaction per tenant; run daily by the app (`ROUMU_JIMUKUMIAI_RETENTION_INTERVAL_SECONDS`).

The ledger stays append-only: its UPDATE trigger is untouched, and a DELETE trigger refuses any row
that no `ledger_purge_permits` row of the same transaction covers. `ledger_delete_permit` is the only
code that writes such a permit: the job opens one per expired page (tenant, member, 年度), deletes
the page and removes the permit before the commit; `PermittedTenantPurge` opens one for the whole
tenant at the end of a contract. Any other DELETE — by hand, by a bug — fails."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, select, union
from sqlalchemy.orm import Session

from services.jimukumiai.models import (
    DueNotice,
    FilingBookEntry,
    LedgerEntry,
    LedgerPurgePermit,
    Member,
    Renewal,
    SpecialEnrolment,
    WageReport,
)
from services.jimukumiai.rules import retention
from shared.outbox import Messaging
from shared.purge import TenantPurge

log = logging.getLogger("roumu.jimukumiai.retention")
_CHUNK = 500


@dataclass
class Purged:
    members: int = 0
    ledger_entries: int = 0
    filing_book_entries: int = 0


@contextmanager
def ledger_delete_permit(session: Session, tenant_id: str, member_id: str | None, fiscal_year: int | None,
                         reason: str) -> Iterator[None]:
    """Leave to delete the tenant's ledger rows (of one member and year, or all with None) within
    this block of this transaction; the permit is gone again before the block ends."""
    permit = LedgerPurgePermit(id=str(uuid.uuid4()), tenant_id=tenant_id, member_id=member_id,
                               fiscal_year=fiscal_year, reason=reason)
    session.add(permit)
    session.flush()
    yield  # on an error the transaction rolls back, the permit with it
    session.execute(delete(LedgerPurgePermit).where(LedgerPurgePermit.id == permit.id))
    session.expunge(permit)


class PermittedTenantPurge(TenantPurge):
    """The generic tenant purge (shared.purge), with a permit for the whole tenant's ledger. The
    permits table is left out of the generic sweep: the permit must outlive the ledger's rows."""

    def __init__(self, service: str, messaging: Messaging) -> None:
        super().__init__(service, messaging, keep=(LedgerPurgePermit.__tablename__,))

    def purge(self, session: Session, tenant_id: str) -> dict[str, int]:
        with ledger_delete_permit(session, tenant_id, None, None, "tenant_purge"):
            return super().purge(session, tenant_id)


def tenants(session: Session) -> list[str]:
    q = union(select(Member.tenant_id), select(LedgerEntry.tenant_id), select(FilingBookEntry.tenant_id))
    return sorted(session.execute(q).scalars())


def _latest_expired(years: int, today: date) -> date:
    """A loose upper bound of the completion days that may have expired (the rule decides)."""
    return date(today.year - years, 12, 31)


def purge_filing_book(session: Session, tenant_id: str, today: date) -> int:
    rows = session.execute(select(FilingBookEntry.id, FilingBookEntry.status, FilingBookEntry.closed_on).where(
        FilingBookEntry.tenant_id == tenant_id, FilingBookEntry.closed_on.is_not(None),
        FilingBookEntry.closed_on <= _latest_expired(retention.FILING_BOOK_YEARS, today))).all()
    doomed = [r.id for r in rows if retention.expired(retention.filing_completed_on(r.status, r.closed_on),
                                                      retention.FILING_BOOK_YEARS, today)]
    for i in range(0, len(doomed), _CHUNK):
        session.execute(delete(FilingBookEntry).where(FilingBookEntry.id.in_(doomed[i:i + _CHUNK])))
    return len(doomed)


def purge_ledger(session: Session, tenant_id: str, today: date) -> int:
    """Whole pages (member × 年度), reversals with what they reverse, and their due notices."""
    bound = _latest_expired(retention.LEDGER_YEARS, today)
    candidates = session.execute(
        select(LedgerEntry.member_id, LedgerEntry.fiscal_year).where(LedgerEntry.tenant_id == tenant_id)
        .group_by(LedgerEntry.member_id, LedgerEntry.fiscal_year)
        .having(func.max(LedgerEntry.occurred_on) <= bound,
                func.coalesce(func.max(LedgerEntry.due_on), func.max(LedgerEntry.occurred_on)) <= bound)).all()
    deleted = 0
    for member_id, fiscal_year in candidates:
        page = session.execute(select(LedgerEntry).where(
            LedgerEntry.tenant_id == tenant_id, LedgerEntry.member_id == member_id,
            LedgerEntry.fiscal_year == fiscal_year)).scalars().all()
        done = retention.ledger_page_completed_on(
            retention.PageEntry(e.kind, e.amount, e.occurred_on, e.due_on) for e in page)
        if not retention.expired(done, retention.LEDGER_YEARS, today):
            continue
        ids = [e.id for e in page]
        for e in page:
            session.expunge(e)
        with ledger_delete_permit(session, tenant_id, member_id, fiscal_year, "retention"):
            session.execute(delete(DueNotice).where(DueNotice.entry_id.in_(ids)))
            session.execute(delete(LedgerEntry).where(
                LedgerEntry.tenant_id == tenant_id, LedgerEntry.member_id == member_id,
                LedgerEntry.fiscal_year == fiscal_year, LedgerEntry.id.in_(ids)))
        deleted += len(ids)
    return deleted


def purge_members(session: Session, tenant_id: str, today: date) -> int:
    """Members past the 名簿's period that no other book still names, with their own details
    (特別加入 spans, wage reports, 年度更新 results)."""
    rows = session.execute(select(Member.id, Member.entrusted_until).where(
        Member.tenant_id == tenant_id, Member.entrusted_until.is_not(None),
        Member.entrusted_until <= _latest_expired(retention.MEMBER_REGISTER_YEARS, today))).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    held = set(session.execute(select(LedgerEntry.member_id).where(
        LedgerEntry.tenant_id == tenant_id, LedgerEntry.member_id.in_(ids))).scalars())
    held |= set(session.execute(select(FilingBookEntry.member_id).where(
        FilingBookEntry.tenant_id == tenant_id, FilingBookEntry.member_id.in_(ids))).scalars())
    doomed = [r.id for r in rows if retention.member_purgeable(r.entrusted_until, today, r.id in held)]
    for i in range(0, len(doomed), _CHUNK):
        chunk = doomed[i:i + _CHUNK]
        for model in (SpecialEnrolment, WageReport, Renewal):
            session.execute(delete(model).where(model.tenant_id == tenant_id, model.member_id.in_(chunk)))
        session.execute(delete(Member).where(Member.tenant_id == tenant_id, Member.id.in_(chunk)))
    return len(doomed)


def purge_tenant(session: Session, tenant_id: str, today: date) -> Purged:
    # The books naming a member go first, so a member whose lines all expired today goes today too.
    filings = purge_filing_book(session, tenant_id, today)
    ledger = purge_ledger(session, tenant_id, today)
    return Purged(members=purge_members(session, tenant_id, today), ledger_entries=ledger,
                  filing_book_entries=filings)


def purge_expired(transaction: Callable[[], AbstractContextManager[Session]], today: date) -> dict[str, Purged]:
    """The job: every tenant, one transaction each; answers what was deleted per tenant (only
    tenants where something was)."""
    with transaction() as session:
        all_tenants = tenants(session)
    out: dict[str, Purged] = {}
    for tenant_id in all_tenants:
        with transaction() as session:
            p = purge_tenant(session, tenant_id, today)
        if p.members or p.ledger_entries or p.filing_book_entries:
            out[tenant_id] = p
            log.info("retention purge", extra={"tenant_id": tenant_id, "members": p.members,
                                               "ledger_entries": p.ledger_entries,
                                               "filing_book_entries": p.filing_book_entries})
    return out
