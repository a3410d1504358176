"""Tamper evidence: a log changed directly in the database fails verification at exactly the
entry that was changed or removed; entries rewritten together with their hashes are caught by
signed checkpoints, stored or exported and handed back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from services.audit_log import service
from services.audit_log.rules import chain
from services.audit_log.rules.checkpoint import NoteError
from services.audit_log.service import CHECKPOINTS, ENTRIES, HEADS
from tests.audit_log.conftest import event, store


def verify(db, signer, tenant, notes=()):
    with db.sessions() as s:
        return service.verify_tenant(s, signer, tenant, datetime.now(UTC), notes)


def chain_rows(db, tenant, category="operation"):
    with db.sessions() as s:
        return s.execute(select(ENTRIES).where(ENTRIES.c.tenant_id == tenant, ENTRIES.c.category == category)
                         .order_by(ENTRIES.c.tenant_seq)).all()


def checkpoint(db, signer, tenant):
    with db.transaction() as s:
        made = service.sign_checkpoints(s, signer, datetime.now(UTC), tenant_id=tenant, kind="manual")
        return [service.checkpoint_note(cp) for cp in made]


def test_intact_log_verifies_against_its_checkpoints(audit_db, signer, tenant):
    store(audit_db, [event(tenant) for _ in range(5)])
    store(audit_db, [event(tenant, "roumu.auth.login.succeeded", subject={"user_id": "u-1", "session_id": "s"},
                           data={"method": "password"}) for _ in range(2)])
    notes = checkpoint(audit_db, signer, tenant)
    assert len(notes) == 2  # one per chain: login, operation
    store(audit_db, [event(tenant) for _ in range(3)])
    report = verify(audit_db, signer, tenant, notes)
    assert report.ok and report.first_mismatch is None
    by = {c.category: c for c in report.chains}
    assert (by["operation"].last_seq, by["operation"].entries_checked) == (8, 8)
    assert by["operation"].checkpoints_checked == 1
    assert (by["login"].last_seq, by["login"].checkpoints_checked) == (2, 1)
    assert [r.tenant_seq for r in chain_rows(audit_db, tenant)] == list(range(1, 9))


@pytest.mark.parametrize("column,value", [
    ("actor_id", "intruder"),
    ("actor_ip", "203.0.113.99"),
    ("data", {"reason": "nothing happened"}),
    ("occurred_at", datetime(2020, 1, 1, tzinfo=UTC)),
    ("type", "roumu.files.file.deleted"),
    ("entry_hash", "ab" * 32),
])
def test_changing_one_stored_entry_fails_verification_at_exactly_that_entry(audit_db, signer, tenant, column, value):
    store(audit_db, [event(tenant, data={"n": n}) for n in range(6)])
    checkpoint(audit_db, signer, tenant)
    victim = chain_rows(audit_db, tenant)[3]
    with audit_db.transaction() as s:
        s.execute(update(ENTRIES).where(ENTRIES.c.event_id == victim.event_id).values({column: value}))
    report = verify(audit_db, signer, tenant)
    assert not report.ok
    m = report.first_mismatch
    assert m is not None
    assert (m.category, m.tenant_seq, m.event_id, m.reason) == ("operation", 4, victim.event_id, chain.CHANGED)


@pytest.mark.parametrize("position", [0, 3, 5])
def test_deleting_one_entry_fails_verification_at_exactly_that_entry(audit_db, signer, tenant, position):
    store(audit_db, [event(tenant) for _ in range(6)])
    victim = chain_rows(audit_db, tenant)[position]
    with audit_db.transaction() as s:
        s.execute(delete(ENTRIES).where(ENTRIES.c.event_id == victim.event_id))
    m = verify(audit_db, signer, tenant).first_mismatch
    assert m is not None
    assert (m.tenant_seq, m.event_id, m.reason) == (position + 1, None, chain.MISSING)


def test_deleting_the_newest_entries_and_the_head_is_caught_by_a_checkpoint(audit_db, signer, tenant):
    store(audit_db, [event(tenant) for _ in range(4)])
    checkpoint(audit_db, signer, tenant)
    rows = chain_rows(audit_db, tenant)
    with audit_db.transaction() as s:
        s.execute(delete(ENTRIES).where(ENTRIES.c.event_id.in_([rows[2].event_id, rows[3].event_id])))
        s.execute(update(HEADS).where(HEADS.c.tenant_id == tenant, HEADS.c.category == "operation")
                  .values(last_seq=2, head_hash=rows[1].entry_hash))
    m = verify(audit_db, signer, tenant).first_mismatch
    assert m is not None and (m.tenant_seq, m.reason) == (3, chain.MISSING)


def _rewrite_with_hashes(db, tenant, index, data):
    """What an intruder with database access and this source code could do: change an entry and
    recompute its hash, every later hash and the head."""
    rows = chain_rows(db, tenant)
    prev = rows[index - 1].entry_hash if index else chain.GENESIS
    with db.transaction() as s:
        for i, r in enumerate(rows[index:], start=index):
            m = dict(r._mapping)
            if i == index:
                m["data"] = data
            h = chain.entry_hash(prev, service.fields_of(m))
            s.execute(update(ENTRIES).where(ENTRIES.c.seq == r.seq).values(data=m["data"], entry_hash=h))
            prev = h
        s.execute(update(HEADS).where(HEADS.c.tenant_id == tenant, HEADS.c.category == "operation")
                  .values(head_hash=prev))


def test_entry_rewritten_with_its_hashes_is_caught_by_the_signed_checkpoints(audit_db, signer, tenant):
    store(audit_db, [event(tenant, data={"n": n}) for n in range(6)])
    exported = checkpoint(audit_db, signer, tenant)
    store(audit_db, [event(tenant, data={"n": n}) for n in range(6, 8)])
    _rewrite_with_hashes(audit_db, tenant, 2, {"n": 99})
    m = verify(audit_db, signer, tenant).first_mismatch
    assert m is not None and (m.tenant_seq, m.reason) == (6, chain.CHECKPOINT)

    # The intruder also deletes the stored checkpoints: the copy kept elsewhere still proves it.
    with audit_db.transaction() as s:
        s.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.tenant_id == tenant))
    assert verify(audit_db, signer, tenant).ok
    m = verify(audit_db, signer, tenant, exported).first_mismatch
    assert m is not None and (m.tenant_seq, m.reason) == (6, chain.CHECKPOINT)


def test_a_changed_checkpoint_fails_its_signature(audit_db, signer, tenant):
    store(audit_db, [event(tenant) for _ in range(3)])
    checkpoint(audit_db, signer, tenant)
    with audit_db.transaction() as s:
        s.execute(update(CHECKPOINTS).where(CHECKPOINTS.c.tenant_id == tenant).values(tenant_seq=2))
    m = verify(audit_db, signer, tenant).first_mismatch
    assert m is not None and (m.tenant_seq, m.reason) == (2, chain.SIGNATURE)


def test_exported_notes_must_be_signed_and_of_this_tenant(audit_db, signer, tenant):
    store(audit_db, [event(tenant)])
    note = checkpoint(audit_db, signer, tenant)[0]
    with pytest.raises(NoteError):
        verify(audit_db, signer, tenant, [note.replace("\n1\n", "\n2\n")])
    other = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NoteError, match="this tenant"):
        verify(audit_db, signer, other, [note])


def test_checkpoint_is_not_signed_over_a_tampered_segment(audit_db, signer, tenant):
    store(audit_db, [event(tenant) for _ in range(3)])
    checkpoint(audit_db, signer, tenant)
    store(audit_db, [event(tenant) for _ in range(3)])
    victim = chain_rows(audit_db, tenant)[4]
    with audit_db.transaction() as s:
        s.execute(update(ENTRIES).where(ENTRIES.c.event_id == victim.event_id).values(actor_id="intruder"))
    assert checkpoint(audit_db, signer, tenant) == []  # refused, logged and counted


def test_system_chain_holds_events_without_a_tenant(audit_db, signer):
    before = datetime.now(UTC) - timedelta(seconds=1)
    store(audit_db, [event(None, "roumu.auth.login.failed", subject={"user_id": "unknown"},
                           data={"reason": "unknown_tenant"})])
    with audit_db.sessions() as s:
        head = s.execute(select(HEADS).where(HEADS.c.tenant_id == chain.SYSTEM_CHAIN,
                                             HEADS.c.category == "login")).one()
        assert head.last_seq >= 1 and head.updated_at >= before
        report = service.verify_chain(s, (chain.SYSTEM_CHAIN, "login"), signer.verifier_keys())
    assert report.mismatch is None and report.last_seq == head.last_seq
