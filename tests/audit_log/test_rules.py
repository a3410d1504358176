"""The audit log's pure rules: chain hashing and verification, signed notes, retention."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit_log.rules import chain, checkpoint, retention

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def fields(seq: int, **over: object) -> dict[str, object]:
    base: dict[str, object] = dict(
        tenant_id="t1", category="operation", tenant_seq=seq, event_id=f"e{seq}", type="roumu.files.file.registered",
        actor_kind="user", actor_id="u1", actor_ip="192.0.2.1", subject={"file_id": f"f{seq}"},
        data={"n": seq, "名前": "値"}, trace_id="req-1", jigyosho_id=None, occurred_at=T0 + timedelta(seconds=seq),
        recorded_at=T0 + timedelta(seconds=seq, milliseconds=5))
    base.update(over)
    return chain.stored_fields(**base)  # type: ignore[arg-type]


def build(n: int) -> list[tuple[int, str, dict[str, object], str]]:
    out = []
    prev = chain.GENESIS
    for seq in range(1, n + 1):
        f = fields(seq)
        prev = chain.entry_hash(prev, f)
        out.append((seq, f"e{seq}", f, prev))
    return out


def replay(entries, start=(0, chain.GENESIS), checkpoints=None, head=None):
    v = chain.ChainVerifier("operation", start[0], start[1], checkpoints or {})
    for e in entries:
        if not v.feed(*e):
            break
    return v, v.finish(*(head or (None, None)))


def test_canonical_json_is_stable_and_utf8():
    f = fields(1)
    assert chain.canonical(f) == chain.canonical(dict(reversed(list(f.items()))))
    assert "値".encode() in chain.canonical(f)
    assert b" " not in chain.canonical(fields(1, data={"a": 1}, actor_ip=None, trace_id=None))
    assert chain.format_time(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02T03:04:05.000006Z"
    with pytest.raises(ValueError):
        chain.format_time(datetime(2026, 1, 1))


def test_ingest_canonical_form_is_byte_for_byte_the_verifiers():
    """The ingest writes the canonical JSON out directly (chain.canonical_entry); verification
    recomputes it with chain.canonical(chain.stored_fields(...)). Any difference would make every
    new entry fail verification, so hold them equal on awkward values: quotes, backslashes,
    control characters, U+2028, astral characters, nulls, nested data, other time zones."""
    rng = random.Random(20261126)
    alphabet = ['a', '"', '\\', '\n', '\x00', '\x1f', '日', '\u2028', 'é', '😀', '1', ' ', '/', '\x7f', '{', ':']

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 9)))

    for _ in range(3000):
        subject = {text(): text() for _ in range(rng.randrange(0, 4))}
        data = {text(): rng.choice([text(), 1, -2.5, None, True, [1, text()], {text(): [None, text()]}])
                for _ in range(rng.randrange(0, 4))}
        fields: dict[str, Any] = dict(
            tenant_id=rng.choice([None, text()]), category=text(), tenant_seq=rng.randrange(1, 10**12),
            event_id=text(), type=text(), actor_kind=text(), actor_id=text(),
            actor_ip=rng.choice([None, text()]), trace_id=rng.choice([None, text()]),
            jigyosho_id=rng.choice([None, text()]),
            occurred_at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=9)))
            + timedelta(microseconds=rng.randrange(10**13)),
            recorded_at=datetime(2026, 11, 26, 8, 0, 0, 123456, tzinfo=UTC))
        expected = chain.canonical(chain.stored_fields(subject=subject, data=data, **fields))
        got = chain.canonical_entry(subject_json=chain.json_text(subject), data_json=chain.json_text(data), **fields)
        assert got == expected
        assert json.loads(chain.json_text(data)) == data  # what is stored reads back as what was hashed


def test_hash_covers_previous_hash_and_every_field():
    f = fields(1)
    h = chain.entry_hash(chain.GENESIS, f)
    assert len(h) == 64 and h != chain.entry_hash("1" * 64, f)
    for key, value in [("tenant_seq", 2), ("actor_ip", None), ("data", {"n": 2}), ("trace_id", "x")]:
        assert chain.entry_hash(chain.GENESIS, {**f, key: value}) != h, key


def test_intact_chain_verifies_with_checkpoints_and_head():
    entries = build(5)
    v, mismatch = replay(entries, checkpoints={3: entries[2][3], 5: entries[4][3]}, head=(5, entries[4][3]))
    assert mismatch is None and v.checked == 5 and v.checkpoints_matched == 2


def test_changed_entry_is_named():
    entries = build(5)
    seq, eid, f, h = entries[2]
    entries[2] = (seq, eid, {**f, "actor_id": "someone-else"}, h)
    _, mismatch = replay(entries)
    assert mismatch is not None
    assert (mismatch.tenant_seq, mismatch.event_id, mismatch.reason) == (3, "e3", chain.CHANGED)


def test_missing_entry_in_the_middle_and_at_the_end():
    entries = build(5)
    _, mismatch = replay(entries[:1] + entries[2:])
    assert mismatch is not None and (mismatch.tenant_seq, mismatch.reason, mismatch.event_id) == (2, "missing", None)
    _, mismatch = replay(entries[:4], head=(5, entries[4][3]))
    assert mismatch is not None and (mismatch.tenant_seq, mismatch.reason) == (5, "missing")
    _, mismatch = replay(entries[:4], checkpoints={5: entries[4][3]})
    assert mismatch is not None and (mismatch.tenant_seq, mismatch.reason) == (5, "missing")


def test_entry_rewritten_with_its_hash_breaks_the_next_entry_or_a_checkpoint():
    entries = build(4)
    seq, eid, f, _ = entries[1]
    forged = {**f, "data": {"n": 99}}
    entries[1] = (seq, eid, forged, chain.entry_hash(entries[0][3], forged))
    _, mismatch = replay(entries)
    assert mismatch is not None and (mismatch.tenant_seq, mismatch.reason) == (3, "changed")
    # Rewriting every later hash too is caught only by a signed checkpoint.
    original = build(4)
    prev = entries[1][3]
    for i in (2, 3):
        s, e, ff, _ = entries[i]
        prev = chain.entry_hash(prev, ff)
        entries[i] = (s, e, ff, prev)
    _, mismatch = replay(entries)
    assert mismatch is None
    _, mismatch = replay(entries, checkpoints={3: original[2][3]})
    assert mismatch is not None and (mismatch.tenant_seq, mismatch.reason) == (3, "checkpoint")


def test_verification_from_a_purge_checkpoint():
    entries = build(6)
    v, mismatch = replay(entries[3:], start=(3, entries[2][3]), head=(6, entries[5][3]))
    assert mismatch is None and v.checked == 3
    _, mismatch = replay(entries[4:], start=(3, entries[2][3]))
    assert mismatch is not None and mismatch.tenant_seq == 4


def test_signed_note_round_trip_and_tampering():
    key = Ed25519PrivateKey.generate()
    body = checkpoint.CheckpointBody(checkpoint.origin("t1", "login"), 42, "ab" * 32, T0, "periodic")
    text = checkpoint.note(body, checkpoint.sign(body, key))
    assert text.startswith("roumu.audit-log/t1/login\n42\n")
    assert "\n\n\u2014 roumu-audit-log " in text
    vkey = checkpoint.parse_verifier_key(checkpoint.verifier_key(key.public_key()))
    opened = checkpoint.open_note(text, [vkey])
    assert opened == body and opened.chain == ("t1", "login")
    with pytest.raises(checkpoint.NoteError, match="changed"):
        checkpoint.open_note(text.replace("\n42\n", "\n41\n"), [vkey])
    other = checkpoint.parse_verifier_key(checkpoint.verifier_key(Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(checkpoint.NoteError, match="known key"):
        checkpoint.open_note(text, [other])
    with pytest.raises(checkpoint.NoteError):
        checkpoint.open_note("garbage", [vkey])


def test_categories_and_retention_cutoffs():
    assert retention.category_of("roumu.auth.login.succeeded") == retention.LOGIN
    assert retention.category_of("roumu.auth.account.locked") == retention.LOGIN
    assert retention.category_of("roumu.auth.password.changed") == retention.OPERATION
    now = datetime(2026, 6, 30, 12, tzinfo=UTC)
    assert retention.cutoff("operation", now) == datetime(2026, 4, 1, 12, tzinfo=UTC)
    assert retention.cutoff("login", now) == datetime(2025, 6, 30, 12, tzinfo=UTC)
    assert retention.one_year_before(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2027, 2, 28, tzinfo=UTC)
