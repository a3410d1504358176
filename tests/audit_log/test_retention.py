"""Retention with a clock moved by hand: operations go after 90 days, login history and lockout
records after 1 year; the purged prefix is summarised by a signed checkpoint and the log still
verifies afterwards."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from services.audit_log import service
from services.audit_log.service import CHECKPOINTS, ENTRIES, TARGETS
from shared.clock import FrozenClock
from tests.audit_log.conftest import event, store

T0 = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
LOGIN_SUBJECT = {"user_id": "u-1", "session_id": "s-1"}


def count(db, tenant, category):
    with db.sessions() as s:
        return s.execute(select(func.count()).select_from(ENTRIES).where(
            ENTRIES.c.tenant_id == tenant, ENTRIES.c.category == category)).scalar_one()


def purge(db, signer, clock):
    with db.transaction() as s:
        return service.purge_expired(s, signer, clock.now())


def verify(db, signer, tenant, clock):
    with db.sessions() as s:
        return service.verify_tenant(s, signer, tenant, clock.now())


def test_operations_after_90_days_logins_after_a_year_and_verification_still_passes(audit_db, signer, tenant):
    clock = FrozenClock(T0)
    day = timedelta(days=1)
    # Day 0: 3 operations and 2 logins; day 10: 2 operations and a lockout; day 100: 1 operation.
    store(audit_db, [event(tenant, at=T0) for _ in range(3)], clock.now())
    store(audit_db, [event(tenant, "roumu.auth.login.succeeded", subject=LOGIN_SUBJECT, data={"method": "password"},
                           at=T0) for _ in range(2)], clock.now())
    clock.advance(10 * day)
    store(audit_db, [event(tenant, at=clock.now()) for _ in range(2)], clock.now())
    store(audit_db, [event(tenant, "roumu.auth.account.locked", subject={"user_id": "u-1", "tenant_id": tenant},
                           at=clock.now())], clock.now())
    with audit_db.transaction() as s:
        service.sign_checkpoints(s, signer, clock.now())

    # 90 days after day 0, to the microsecond: nothing is past it yet.
    clock.set(T0 + 90 * day)
    assert [p for p in purge(audit_db, signer, clock) if p.tenant_id == tenant] == []
    clock.advance(timedelta(microseconds=1))
    done = [p for p in purge(audit_db, signer, clock) if p.tenant_id == tenant]
    assert [(p.category, p.through_seq, p.entries) for p in done] == [("operation", 3, 3)]
    assert count(audit_db, tenant, "operation") == 2 and count(audit_db, tenant, "login") == 3
    report = verify(audit_db, signer, tenant, clock)
    assert report.ok, report.first_mismatch
    ops = {c.category: c for c in report.chains}["operation"]
    assert (ops.start_seq, ops.last_seq, ops.entries_checked) == (3, 5, 2)

    # New entries keep chaining after the purge; day 100 + 1 s purges the day-10 operations.
    clock.set(T0 + 100 * day + timedelta(seconds=1))
    store(audit_db, [event(tenant, at=clock.now())], clock.now())
    done = [p for p in purge(audit_db, signer, clock) if p.tenant_id == tenant]
    assert [(p.category, p.through_seq) for p in done] == [("operation", 5)]
    assert count(audit_db, tenant, "operation") == 1

    # Login history stays for the year, then goes: day 0 logins at 2027-01-10 03:00 + 1 µs.
    clock.set(datetime(2027, 1, 10, 3, 0, tzinfo=UTC))
    done = [p for p in purge(audit_db, signer, clock) if p.tenant_id == tenant]
    assert [(p.category, p.through_seq, p.entries) for p in done] == [("operation", 6, 1)]  # day 100 + 90
    clock.advance(timedelta(microseconds=1))
    done = [p for p in purge(audit_db, signer, clock) if p.tenant_id == tenant]
    assert [(p.category, p.through_seq, p.entries) for p in done] == [("login", 2, 2)]  # the day-10 lockout stays
    assert count(audit_db, tenant, "login") == 1 and count(audit_db, tenant, "operation") == 0
    assert verify(audit_db, signer, tenant, clock).ok

    with audit_db.sessions() as s:
        kinds = s.execute(select(CHECKPOINTS.c.category, CHECKPOINTS.c.tenant_seq).where(
            CHECKPOINTS.c.tenant_id == tenant, CHECKPOINTS.c.kind == "purge").order_by(CHECKPOINTS.c.id)).all()
        assert [tuple(k) for k in kinds] == [("operation", 3), ("operation", 5), ("operation", 6),
                                            ("login", 2)]
        # The purged entries' target index went with them.
        left = s.execute(select(func.count()).select_from(TARGETS).where(TARGETS.c.tenant_id == tenant)).scalar_one()
    assert left == count(audit_db, tenant, "operation") + count(audit_db, tenant, "login")

    # Tampering after a purge is still caught, at the entry.
    with audit_db.transaction() as s:
        first = s.execute(select(ENTRIES.c.event_id, ENTRIES.c.tenant_seq).where(
            ENTRIES.c.tenant_id == tenant, ENTRIES.c.category == "login")).one()
        s.execute(update(ENTRIES).where(ENTRIES.c.event_id == first.event_id).values(actor_id="intruder"))
    m = verify(audit_db, signer, tenant, clock).first_mismatch
    assert m is not None and (m.tenant_seq, m.event_id, m.reason) == (first.tenant_seq, first.event_id, "changed")


def test_a_late_old_event_does_not_punch_a_hole(audit_db, signer, tenant):
    """Purging is by prefix: an entry recorded after a younger one waits for it."""
    clock = FrozenClock(T0)
    store(audit_db, [event(tenant, at=T0 + timedelta(days=5))], clock.now())
    store(audit_db, [event(tenant, at=T0)], clock.now())  # arrived late (the log was down)
    clock.set(T0 + timedelta(days=91))
    assert [p for p in purge(audit_db, signer, clock) if p.tenant_id == tenant] == []
    clock.set(T0 + timedelta(days=96))
    done = [p for p in purge(audit_db, signer, clock) if p.tenant_id == tenant]
    assert [(p.through_seq, p.entries) for p in done] == [(2, 2)]
    assert verify(audit_db, signer, tenant, clock).ok


def test_a_tampered_prefix_is_not_purged(audit_db, signer, tenant):
    clock = FrozenClock(T0)
    store(audit_db, [event(tenant, at=T0) for _ in range(3)], clock.now())
    with audit_db.transaction() as s:
        victim = s.execute(select(ENTRIES.c.event_id).where(ENTRIES.c.tenant_id == tenant,
                                                            ENTRIES.c.tenant_seq == 2)).scalar_one()
        s.execute(update(ENTRIES).where(ENTRIES.c.event_id == victim).values(actor_id="intruder"))
    clock.set(T0 + timedelta(days=91))
    assert [p for p in purge(audit_db, signer, clock) if p.tenant_id == tenant] == []
    assert count(audit_db, tenant, "operation") == 3
    m = verify(audit_db, signer, tenant, clock).first_mismatch
    assert m is not None and (m.tenant_seq, m.event_id) == (2, victim)


def test_two_purges_at_once_write_one_purge_checkpoint_per_chain(audit_db, signer, tenant):
    """Two replicas' retention jobs on the same chains at the same time (threads, sessions of
    their own). The first holds its transaction open while the second runs: on PostgreSQL the
    second finds the chain's purge lock taken and skips it; on SQLite it waits for the single
    writer and then finds the purge checkpoint and nothing left to purge."""
    clock = FrozenClock(T0)
    store(audit_db, [event(tenant, at=T0) for _ in range(4)], clock.now())
    store(audit_db, [event(tenant, "roumu.auth.login.succeeded", subject=LOGIN_SUBJECT, at=T0)
                     for _ in range(3)], clock.now())
    store(audit_db, [event(tenant, at=T0 + timedelta(days=350))], clock.now())  # within 90 days of day 400
    clock.set(T0 + timedelta(days=400))

    first_done = threading.Event()
    release = threading.Event()
    results: dict[str, list[service.Purged]] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with audit_db.transaction() as s:
                results["first"] = service.purge_expired(s, signer, clock.now())
                first_done.set()
                assert release.wait(30)
        except BaseException as exc:
            errors.append(exc)
            first_done.set()

    def second() -> None:
        try:
            results["second"] = purge(audit_db, signer, clock)
        except BaseException as exc:
            errors.append(exc)

    a = threading.Thread(target=first)
    a.start()
    assert first_done.wait(30)
    b = threading.Thread(target=second)
    b.start()
    b.join(1.0)  # PostgreSQL: done already (skipped); SQLite: waiting for the write lock
    release.set()
    a.join(30)
    b.join(30)
    assert not errors, errors

    mine = {name: [(p.category, p.through_seq, p.entries) for p in done if p.tenant_id == tenant]
            for name, done in results.items()}
    assert sorted(mine["first"]) == [("login", 3, 3), ("operation", 4, 4)]
    assert mine["second"] == []
    with audit_db.sessions() as s:
        checkpoints = s.execute(select(CHECKPOINTS.c.category, func.count()).where(
            CHECKPOINTS.c.tenant_id == tenant, CHECKPOINTS.c.kind == "purge").group_by(CHECKPOINTS.c.category)).all()
    assert sorted(tuple(c) for c in checkpoints) == [("login", 1), ("operation", 1)]
    assert count(audit_db, tenant, "operation") == 1 and count(audit_db, tenant, "login") == 0
    report = verify(audit_db, signer, tenant, clock)
    assert report.ok, report.first_mismatch
    # And a later run, with nothing new past retention, has nothing to do.
    assert [p for p in purge(audit_db, signer, clock) if p.tenant_id == tenant] == []
