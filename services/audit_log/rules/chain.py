"""The hash chain of one tenant's entries of one category, and its verification.

    entry_hash(n) = SHA-256(entry_hash(n-1) || canonical JSON of entry n's stored fields)

with entry_hash(0) = GENESIS (32 zero bytes), hashes written as lower-case hex. The stored fields
include the entry's sequence number in its chain (`tenant_seq`), so an entry cannot be moved,
and the time it was recorded. Canonical JSON: keys sorted, no spaces, UTF-8, times as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC.

Verification replays a chain from its start (GENESIS, or the signed checkpoint that summarises
a purged prefix) and stops at the first entry that does not match: a changed entry (its stored
hash is not the hash of its fields), a missing one (a gap in `tenant_seq`, or entries gone from
the end that a checkpoint or the chain head still counts), or a chain that no longer leads to a
signed checkpoint's hash (entries rewritten together with their hashes)."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FORMAT = 1
GENESIS = "0" * 64
SYSTEM_CHAIN = "-"  # the chain of events without a tenant (e.g. a login to an unknown tenant)

CHANGED = "changed"
MISSING = "missing"
CHECKPOINT = "checkpoint"
HEAD = "head"
SIGNATURE = "signature"


def format_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime in an audit entry")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stored_fields(*, tenant_id: str | None, category: str, tenant_seq: int, event_id: str, type: str,
                  actor_kind: str, actor_id: str, actor_ip: str | None, subject: Mapping[str, Any],
                  data: Mapping[str, Any], trace_id: str | None, jigyosho_id: str | None,
                  occurred_at: datetime, recorded_at: datetime) -> dict[str, Any]:
    """The fields of one entry that its hash covers: every stored column but the hash itself and
    the database's own row number."""
    return {
        "v": FORMAT, "tenant_id": tenant_id, "category": category, "tenant_seq": tenant_seq,
        "event_id": event_id, "type": type, "actor": {"kind": actor_kind, "id": actor_id, "ip": actor_ip},
        "subject": subject, "data": data, "trace_id": trace_id, "jigyosho_id": jigyosho_id,
        "occurred_at": format_time(occurred_at), "recorded_at": format_time(recorded_at),
    }


def canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return chained(prev_hash, canonical(fields))


def chained(prev_hash: str, canonical_bytes: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_bytes).hexdigest()


# json.dumps(value, **the options of `canonical`) is this encoder's encode(value); one instance
# saves building an encoder per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_text(value: Any) -> str:
    """The canonical JSON of one value (what `canonical` writes for it inside an entry)."""
    return _CANONICAL.encode(value)


_encode_str = json.encoder.encode_basestring  # json.dumps' own string encoder when ensure_ascii=False


def _text(value: str | None) -> str:
    return "null" if value is None else _encode_str(value)


@functools.lru_cache(maxsize=8)
def _format_recorded(at: datetime) -> str:
    return format_time(at)  # one recording time per batch: formatted once


def canonical_entry(*, tenant_id: str | None, category: str, tenant_seq: int, event_id: str, type: str,
                    actor_kind: str, actor_id: str, actor_ip: str | None, subject_json: str, data_json: str,
                    trace_id: str | None, jigyosho_id: str | None, occurred_at: datetime,
                    recorded_at: datetime) -> bytes:
    """`canonical(stored_fields(...))`, byte for byte, written out directly (keys in sorted
    order) around the subject's and the data's canonical JSON (`json_text`), which the ingest also
    stores: one serialisation of each instead of three. tests/audit_log/test_rules.py holds the two
    equal; verification still uses `canonical`."""
    return ('{"actor":{"id":' + _text(actor_id) + ',"ip":' + _text(actor_ip) + ',"kind":' + _text(actor_kind)
            + '},"category":' + _text(category) + ',"data":' + data_json + ',"event_id":' + _text(event_id)
            + ',"jigyosho_id":' + _text(jigyosho_id) + ',"occurred_at":"' + format_time(occurred_at)
            + '","recorded_at":"' + _format_recorded(recorded_at) + '","subject":' + subject_json
            + ',"tenant_id":' + _text(tenant_id) + ',"tenant_seq":' + str(int(tenant_seq))
            + ',"trace_id":' + _text(trace_id) + ',"type":' + _text(type) + ',"v":' + str(FORMAT) + "}").encode()


@dataclass(frozen=True)
class Mismatch:
    """The first place a chain does not match. `event_id` is None when the entry is missing."""

    category: str
    tenant_seq: int
    event_id: str | None
    reason: str
    detail: str


class ChainVerifier:
    """Replays one chain fed entry by entry in `tenant_seq` order (streamed by the caller, so a
    long chain never sits in memory). `checkpoints`: sequence number → head hash of the signed
    checkpoints (signatures already checked) after `start_seq`."""

    def __init__(self, category: str, start_seq: int, start_hash: str, checkpoints: Mapping[int, str]) -> None:
        self.category = category
        self.start_seq = start_seq
        self.expected = start_seq + 1
        self.prev = start_hash
        self.checkpoints = {s: h for s, h in checkpoints.items() if s > start_seq}
        self.checked = 0
        self.checkpoints_matched = 0
        self.mismatch: Mismatch | None = None

    @property
    def last_seq(self) -> int:
        return self.expected - 1

    def feed(self, tenant_seq: int, event_id: str, fields: Mapping[str, Any], stored_hash: str) -> bool:
        """Check one entry; False once a mismatch is found (feed no more)."""
        if self.mismatch is not None:
            return False
        if tenant_seq <= self.start_seq:
            return True  # part of the summarised prefix, not yet deleted: covered by the checkpoint
        if tenant_seq != self.expected:
            self.mismatch = Mismatch(self.category, self.expected, None, MISSING,
                                     f"entry {self.expected} is missing (the next one present is {tenant_seq})")
            return False
        computed = entry_hash(self.prev, fields)
        if computed != stored_hash:
            self.mismatch = Mismatch(self.category, tenant_seq, event_id, CHANGED,
                                     "the entry's fields do not hash to its stored hash: it was changed")
            return False
        signed = self.checkpoints.get(tenant_seq)
        if signed is not None:
            if signed != computed:
                self.mismatch = Mismatch(
                    self.category, tenant_seq, event_id, CHECKPOINT,
                    "the chain up to this entry does not lead to the signed checkpoint's hash: this entry or "
                    "one after the previous matching checkpoint was rewritten together with its hash")
                return False
            self.checkpoints_matched += 1
        self.prev = computed
        self.expected += 1
        self.checked += 1
        return True

    def finish(self, head_seq: int | None, head_hash: str | None) -> Mismatch | None:
        """After the last entry: checkpoints and the chain head must not count entries that are
        gone from the end."""
        if self.mismatch is not None:
            return self.mismatch
        beyond = sorted(s for s in self.checkpoints if s > self.last_seq)
        if beyond:
            self.mismatch = Mismatch(self.category, self.last_seq + 1, None, MISSING,
                                     f"entry {self.last_seq + 1} is missing: a signed checkpoint counts "
                                     f"{beyond[-1]} entries")
        elif head_seq is not None and head_seq > self.last_seq:
            self.mismatch = Mismatch(self.category, self.last_seq + 1, None, MISSING,
                                     f"entry {self.last_seq + 1} is missing: the chain head counts {head_seq}")
        elif head_seq is not None and (head_seq != self.last_seq or (head_hash is not None
                                                                      and head_hash != self.prev)):
            self.mismatch = Mismatch(self.category, self.last_seq, None, HEAD,
                                     "the chain head does not match the last entry")
        return self.mismatch
