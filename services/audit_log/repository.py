"""Queries of the audit-log service: always within one tenant, newest first, keyset-paginated on
the entry's row number (a cursor never skips or repeats an entry while new ones arrive)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from services.audit_log.models import AuditEntry, AuditTarget, Checkpoint
from services.audit_log.rules import retention


@dataclass(frozen=True)
class EntryFilter:
    """Filters of the log screen; None = not filtered."""

    user_id: str | None = None  # who did it (the actor)
    jigyosho_id: str | None = None
    action: str | None = None  # an event type, or a prefix ending in '.' (roumu.koyo_hoken.)
    target: str | None = None  # any id the entry is about
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    category: str | None = None
    actor_kind: str | None = None  # "operator": 運用者による操作


def _window(now: datetime) -> Any:
    """What the log screen shows: operations of the last 90 days, login history of the last year."""
    return or_(*[and_(AuditEntry.category == c, AuditEntry.occurred_at >= retention.cutoff(c, now))
                 for c in retention.CATEGORIES])


def _about(tenant_id: str, value: str, key: str | None = None) -> Any:
    q = select(AuditTarget.entry_seq).where(AuditTarget.tenant_id == tenant_id, AuditTarget.value == value)
    if key is not None:
        q = q.where(AuditTarget.key == key)
    return AuditEntry.seq.in_(q)


def entries(session: Session, tenant_id: str, flt: EntryFilter, *, now: datetime,
            jigyosho_scope: Collection[str] | None, before: int | None, limit: int) -> Sequence[AuditEntry]:
    """One page of the tenant's log. `jigyosho_scope`: the 事業所 the caller may see (None = all);
    with a scope, entries not tied to one of them are left out. `before`: the cursor (row number)."""
    q = entries_query(tenant_id, flt, now=now, jigyosho_scope=jigyosho_scope, before=before, limit=limit)
    return session.execute(q).scalars().all()


def entries_query(tenant_id: str, flt: EntryFilter, *, now: datetime, jigyosho_scope: Collection[str] | None,
                  before: int | None, limit: int) -> Select[AuditEntry]:
    """The statement of `entries`. With a category (the log screen always names one), the index
    (tenant_id, category, seq) gives the newest rows in order: the first page reads 100 rows instead
    of sorting the tenant's whole window (tests/audit_log/test_entries_plan.py)."""
    q = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, _window(now))
    if jigyosho_scope is not None:
        q = q.where(AuditEntry.jigyosho_id.in_(sorted(jigyosho_scope)))
    if flt.user_id:
        q = q.where(AuditEntry.actor_id == flt.user_id)
    if flt.jigyosho_id:
        q = q.where(AuditEntry.jigyosho_id == flt.jigyosho_id)
    if flt.action:
        q = q.where(AuditEntry.type.startswith(flt.action, autoescape=True) if flt.action.endswith(".")
                    else AuditEntry.type == flt.action)
    if flt.target:
        q = q.where(_about(tenant_id, flt.target))
    if flt.since:
        q = q.where(AuditEntry.occurred_at >= flt.since)
    if flt.until:
        q = q.where(AuditEntry.occurred_at < flt.until)
    if flt.category:
        q = q.where(AuditEntry.category == flt.category)
    if flt.actor_kind:
        q = q.where(AuditEntry.actor_kind == flt.actor_kind)
    if before is not None:
        q = q.where(AuditEntry.seq < before)
    return q.order_by(AuditEntry.seq.desc()).limit(limit)


def login_history(session: Session, tenant_id: str, user_id: str, *, now: datetime, since: datetime | None,
                  until: datetime | None, before: int | None, limit: int) -> Sequence[AuditEntry]:
    """A user's own logins, failures and lockouts (subject.user_id), within the year kept."""
    q = select(AuditEntry).where(
        AuditEntry.tenant_id == tenant_id, AuditEntry.category == retention.LOGIN,
        AuditEntry.occurred_at >= retention.cutoff(retention.LOGIN, now), _about(tenant_id, user_id, "user_id"))
    if since:
        q = q.where(AuditEntry.occurred_at >= since)
    if until:
        q = q.where(AuditEntry.occurred_at < until)
    if before is not None:
        q = q.where(AuditEntry.seq < before)
    return session.execute(q.order_by(AuditEntry.seq.desc()).limit(limit)).scalars().all()


def views_of(session: Session, tenant_id: str, event_types: Collection[str], subject_id: str, *, now: datetime,
             jigyosho_scope: Collection[str] | None, before: int | None, limit: int) -> Sequence[AuditEntry]:
    """Entries of these types about one id (whatever the subject key names it), e.g. every view of
    one person's My Number."""
    q = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.type.in_(sorted(event_types)),
                                 _window(now),
                                 _about(tenant_id, subject_id))
    if jigyosho_scope is not None:
        q = q.where(AuditEntry.jigyosho_id.in_(sorted(jigyosho_scope)))
    if before is not None:
        q = q.where(AuditEntry.seq < before)
    return session.execute(q.order_by(AuditEntry.seq.desc()).limit(limit)).scalars().all()


def checkpoints(session: Session, tenant_id: str, *, category: str | None, before: int | None, limit: int
                ) -> Sequence[Checkpoint]:
    q = select(Checkpoint).where(Checkpoint.tenant_id == tenant_id)
    if category:
        q = q.where(Checkpoint.category == category)
    if before is not None:
        q = q.where(Checkpoint.id < before)
    return session.execute(q.order_by(Checkpoint.id.desc()).limit(limit)).scalars().all()
