"""Use cases of the audit-log service: appending events to the chains, signed checkpoints,
retention, verification.

Every event of roumu.> becomes one entry of its tenant's chain of its category (login history or
operations; rules/retention.py). Appending locks the chain's head row (FOR UPDATE on PostgreSQL;
SQLite has one writer at a time anyway), numbers the entries, hashes them (rules/chain.py) and
moves the head, in the consumer's transaction — together with its inbox claims."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Row, RowMapping, Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from services.audit_log import metrics
from services.audit_log.models import AuditEntry, AuditTarget, ChainHead, Checkpoint, permissions
from services.audit_log.rules import chain, retention
from services.audit_log.rules.chain import ChainVerifier, Mismatch
from services.audit_log.rules.checkpoint import CheckpointBody, NoteError, VerifierKey, note, open_note, origin
from services.audit_log.signer import CheckpointSigner
from shared.clock import Clock
from shared.events import EventEnvelope
from shared.logging import redact
from shared.purge import TenantPurge

log = logging.getLogger("roumu.audit_log")

ENTRIES = cast(Table, AuditEntry.__table__)
TARGETS = cast(Table, AuditTarget.__table__)
HEADS = cast(Table, ChainHead.__table__)
CHECKPOINTS = cast(Table, Checkpoint.__table__)
ACCOUNTS_PREFIX = "roumu.accounts."
MY_NUMBER_VIEWED = "roumu.koyo_hoken.my_number.viewed"
# Every event that records a My Number shown to someone: koyo_hoken's unmasked reads, and e-filing's
# package downloads with the number in them.
MY_NUMBER_VIEW_TYPES = (MY_NUMBER_VIEWED, "roumu.efiling.my_number.viewed")
ChainKey = tuple[str, str]  # (tenant id or '-', category)


def chain_tenant(tenant_id: str | None) -> str:
    return tenant_id or chain.SYSTEM_CHAIN


def _of_chain(tenant: str, category: str) -> Any:
    tenant_col = ENTRIES.c.tenant_id
    owner = tenant_col.is_(None) if tenant == chain.SYSTEM_CHAIN else tenant_col == tenant
    return owner & (ENTRIES.c.category == category)


# --- storage ---------------------------------------------------------------------------------

# SQLite settings of this service's database, on top of shared.db's (WAL, busy timeout):
# * synchronous=FULL: the WAL is synced at every commit. shared.db's NORMAL survives a crash of the
#   process but not of the machine (power loss, kernel panic): the transactions committed since the
#   last checkpoint can be lost — here batches of entries whose events were already acked, so the
#   stream would not deliver them again and the log would silently end early. One sync per batch
#   of 1,000 cost nothing measurable in the ingest benchmark (docs/audit_log.md, "Throughput").
# * a page cache that holds the hot index pages of a growing log (SQLite's default is 2 MiB);
# * a write-ahead log checkpointed every ~40 MiB rather than 4 MiB: a batch writes megabytes of
#   index pages, and each checkpoint copies them back into the database file and syncs it.
SQLITE_PRAGMAS = ("PRAGMA synchronous=FULL", "PRAGMA cache_size=-65536", "PRAGMA wal_autocheckpoint=10000",
                  "PRAGMA journal_size_limit=67108864")


def tune_database(engine: Engine) -> None:
    """Apply SQLITE_PRAGMAS to every connection of the service's engine (nothing on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return

    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cur.execute(pragma)
        cur.close()

    sa_event.listen(engine, "connect", _pragmas)
    engine.dispose()  # connections opened before get them too


# --- ingest ---------------------------------------------------------------------------------


class Recorder:
    """The handler of the one consumer of roumu.>: entries for every event; grants and the tenant
    purge for accounts' events, applied in stream order between the entries around them."""

    def __init__(self, clock: Clock, purge: TenantPurge) -> None:
        self.clock = clock
        self.purge = purge

    def record(self, session: Session, event: EventEnvelope) -> None:
        self.record_batch(session, [event])

    def record_batch(self, session: Session, events: Sequence[EventEnvelope]) -> None:
        pending: list[EventEnvelope] = []
        for event in events:
            if not event.type.startswith(ACCOUNTS_PREFIX):
                pending.append(event)
                continue
            if pending:
                append(session, pending, self.clock.now())
                pending = []
            append(session, [event], self.clock.now())
            permissions.handle(session, event)
            self.purge.handle(session, event)
        if pending:
            append(session, pending, self.clock.now())


def _lock_heads(session: Session, keys: Iterable[ChainKey]) -> dict[ChainKey, tuple[int, str]]:
    wanted = set(keys)
    tenants = sorted({t for t, _ in wanted})
    rows = session.execute(select(HEADS.c.tenant_id, HEADS.c.category, HEADS.c.last_seq, HEADS.c.head_hash)
                           .where(HEADS.c.tenant_id.in_(tenants))
                           .order_by(HEADS.c.tenant_id, HEADS.c.category).with_for_update()).all()
    return {(r.tenant_id, r.category): (int(r.last_seq), str(r.head_hash)) for r in rows
            if (r.tenant_id, r.category) in wanted}


def append(session: Session, events: Sequence[EventEnvelope], now: datetime) -> None:
    """Append events to their chains, in order, in the caller's transaction."""
    keys = [(chain_tenant(e.tenant_id), retention.category_of(e.type)) for e in events]
    heads = _lock_heads(session, keys)
    known = set(heads)
    seqs = _row_numbers(session, len(events))
    entry_rows: list[dict[str, Any]] = []
    target_rows: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for event, key, seq in zip(events, keys, seqs, strict=True):
        last, prev = heads.get(key, (0, chain.GENESIS))
        category = key[1]
        subject = event.subject
        jigyosho = subject.get("jigyosho_id")
        actor = event.actor
        row: dict[str, Any] = {
            "seq": seq, "event_id": event.id, "tenant_id": event.tenant_id[:36] if event.tenant_id else None,
            "category": category, "tenant_seq": last + 1, "type": event.type[:200],
            "actor_kind": actor.kind, "actor_id": actor.id[:64], "actor_ip": actor.ip[:45] if actor.ip else None,
            "jigyosho_id": str(jigyosho)[:36] if jigyosho else None,
            # Stored as the canonical JSON the hash covers (serialised once, parsed back alike).
            "subject": chain.json_text(subject),
            # Events carry no secrets by contract; redact() is a second guard.
            "data": chain.json_text(redact(event.data)),
            "trace_id": event.trace_id[:128] if event.trace_id else None,
            "occurred_at": event.occurred_at, "recorded_at": now,
        }
        row["entry_hash"] = chain.chained(prev, chain.canonical_entry(
            tenant_id=row["tenant_id"], category=category, tenant_seq=last + 1, event_id=row["event_id"],
            type=row["type"], actor_kind=row["actor_kind"], actor_id=row["actor_id"], actor_ip=row["actor_ip"],
            subject_json=row["subject"], data_json=row["data"], trace_id=row["trace_id"],
            jigyosho_id=row["jigyosho_id"], occurred_at=row["occurred_at"], recorded_at=now))
        entry_rows.append(row)
        # The row number keys the target index (ascending, so its inserts append at the end).
        target_rows += [{"entry_seq": seq, "key": k[:40], "value": str(v)[:100], "tenant_id": row["tenant_id"]}
                        for k, v in subject.items() if k != "tenant_id" and v]
        heads[key] = (last + 1, row["entry_hash"])
        counts[category] = counts.get(category, 0) + 1
    _insert_many(session, ENTRIES, entry_rows, json_text=("subject", "data"))
    _insert_many(session, TARGETS, target_rows)
    moved = {k: heads[k] for k in dict.fromkeys(keys)}
    new = [{"tenant_id": k[0], "category": k[1], "last_seq": s, "head_hash": h, "updated_at": now}
           for k, (s, h) in moved.items() if k not in known]
    old = [{"b_tenant": k[0], "b_category": k[1], "b_seq": s, "b_hash": h, "b_at": now}
           for k, (s, h) in moved.items() if k in known]
    if new:
        session.execute(insert(HEADS), new)
    if old:
        session.execute(update(HEADS).where(HEADS.c.tenant_id == bindparam("b_tenant"),
                                            HEADS.c.category == bindparam("b_category"))
                        .values(last_seq=bindparam("b_seq"), head_hash=bindparam("b_hash"),
                                updated_at=bindparam("b_at")), old)
    for category, n in counts.items():
        metrics.ENTRIES.labels(category).inc(n)


def _row_numbers(session: Session, n: int) -> list[int]:
    """`n` new row numbers of audit_entries, ascending: drawn from the column's sequence on
    PostgreSQL (unique across replicas, maybe not contiguous); on SQLite the transaction already
    holds the database's write lock (BEGIN IMMEDIATE, and the inbox claims came first), so the
    numbers after the largest one are free, as SQLite's own rowid choice would take them."""
    if n == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return sorted(int(v) for v in session.execute(
            text("SELECT nextval(pg_get_serial_sequence('audit_entries', 'seq')) FROM generate_series(1, :n)"),
            {"n": n}).scalars())
    # Past the target index too: entries deleted behind the service's back (tampering, caught by
    # verification) may have left target rows, which a reused number would collide with.
    tops = session.execute(select(func.max(ENTRIES.c.seq),
                                  select(func.max(TARGETS.c.entry_seq)).scalar_subquery())).one()
    top = max(int(tops[0] or 0), int(tops[1] or 0))
    return list(range(top + 1, top + n + 1))


_PG_ARRAY = {"seq": "bigint", "entry_seq": "bigint", "tenant_seq": "bigint", "subject": "json", "data": "json",
             "occurred_at": "timestamptz", "recorded_at": "timestamptz"}


def _insert_many(session: Session, table: Table, rows: Sequence[Mapping[str, Any]],
                 json_text: Collection[str] = ()) -> None:
    """Insert rows of one shape; `json_text`: JSON columns given as JSON text already.

    SQLite: the driver's executemany, with the columns' own bind processors (the conversions
    SQLAlchemy would apply) run column by column — its generic per-row parameter handling cost
    more than SQLite's insert. PostgreSQL: one INSERT … SELECT FROM unnest() with an array per
    column, a statement whose text does not grow with the batch (psycopg re-parses a long
    statement on every call, and an executemany pays a protocol round per row)."""
    if not rows:
        return
    cols = list(rows[0])
    columns = [[r[c] for r in rows] for c in cols]
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        names = ", ".join(f'"{c}"' for c in cols)
        # %(c)b: each array travels in psycopg's binary format; its text format quotes and
        # escapes every element in Python (≈ 2–3 µs an element, most of the insert's cost).
        arrays = ", ".join(f"CAST(%({c})b AS {_PG_ARRAY.get(c, 'text')}[])" for c in cols)
        session.connection().exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays})",  # noqa: S608 - names from the model
            dict(zip(cols, columns, strict=True)))
        return
    if dialect.name != "sqlite":
        decoded = [[json.loads(v) for v in col] if c in json_text else col
                   for c, col in zip(cols, columns, strict=True)]
        session.execute(insert(table), [dict(zip(cols, values, strict=True)) for values in zip(*decoded, strict=True)])
        return
    processed = []
    for c, col in zip(cols, columns, strict=True):
        proc = None if c in json_text else table.c[c].type._cached_bind_processor(dialect)
        processed.append(col if proc is None else _apply(proc, col))
    names = ", ".join(f'"{c}"' for c in cols)
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' for _ in cols)})"  # noqa: S608 - names from the model
    session.connection().exec_driver_sql(sql, list(zip(*processed, strict=True)))


def _apply(proc: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    out: list[Any] = []
    last: Any = object()
    done: Any = None
    for v in values:
        if v is not last:  # e.g. the batch's one recording time: converted once
            last, done = v, proc(v)
        out.append(done)
    return out


def fields_of(row: Mapping[str, Any] | RowMapping) -> dict[str, Any]:
    """The hashed fields of an entry, from a stored row or one about to be stored."""
    return chain.stored_fields(
        tenant_id=row["tenant_id"], category=row["category"], tenant_seq=int(row["tenant_seq"]),
        event_id=row["event_id"], type=row["type"], actor_kind=row["actor_kind"], actor_id=row["actor_id"],
        actor_ip=row["actor_ip"], subject=row["subject"], data=row["data"], trace_id=row["trace_id"],
        jigyosho_id=row["jigyosho_id"], occurred_at=row["occurred_at"], recorded_at=row["recorded_at"])


# --- checkpoints ----------------------------------------------------------------------------


def checkpoint_body(cp: Checkpoint | Row[Any]) -> CheckpointBody:
    return CheckpointBody(origin(cp.tenant_id, cp.category), int(cp.tenant_seq), cp.head_hash, cp.signed_at,
                          cp.kind)


def checkpoint_note(cp: Checkpoint | Row[Any]) -> str:
    return note(checkpoint_body(cp), cp.signature)


def signature_valid(cp: Checkpoint | Row[Any], keys: Sequence[VerifierKey]) -> bool:
    try:
        return open_note(checkpoint_note(cp), keys) == checkpoint_body(cp)
    except NoteError:
        return False


@dataclass(frozen=True)
class SignedPoint:
    """A checkpoint whose signature verified: the chain held `tenant_seq` entries ending in `head_hash`."""

    tenant_seq: int
    head_hash: str
    kind: str


def _checkpoints(session: Session, key: ChainKey, keys: Sequence[VerifierKey]
                 ) -> tuple[list[SignedPoint], list[int]]:
    """Signed checkpoints of a chain in order, and the sequence numbers of stored checkpoints
    whose signature does not verify."""
    rows = session.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.tenant_id == key[0],
                                                     CHECKPOINTS.c.category == key[1])
                           .order_by(CHECKPOINTS.c.tenant_seq, CHECKPOINTS.c.id)).all()
    good: list[SignedPoint] = []
    bad: list[int] = []
    for r in rows:
        if signature_valid(r, keys):
            good.append(SignedPoint(int(r.tenant_seq), r.head_hash, r.kind))
        else:
            bad.append(int(r.tenant_seq))
    return good, bad


def _entries_after(session: Session, key: ChainKey, after: int, through: int | None = None
                   ) -> Iterator[Row[Any]]:
    q = select(ENTRIES).where(_of_chain(*key), ENTRIES.c.tenant_seq > after)
    if through is not None:
        q = q.where(ENTRIES.c.tenant_seq <= through)
    yield from session.execute(q.order_by(ENTRIES.c.tenant_seq).execution_options(yield_per=2000))


def _replay(verifier: ChainVerifier, rows: Iterable[Row[Any]]) -> None:
    for r in rows:
        m = r._mapping
        if not verifier.feed(int(m["tenant_seq"]), m["event_id"], fields_of(m), m["entry_hash"]):
            return


def _sign(session: Session, signer: CheckpointSigner, key: ChainKey, seq: int, head_hash: str, at: datetime,
          kind: str) -> Checkpoint:
    body = CheckpointBody(origin(*key), seq, head_hash, at, kind)
    kid, signature = signer.sign(body)
    cp = Checkpoint(tenant_id=key[0], category=key[1], tenant_seq=seq, head_hash=head_hash, signed_at=at,
                    kind=kind, key_id=kid, signature=signature)
    session.add(cp)
    session.flush()
    metrics.CHECKPOINTS.labels(kind).inc()
    return cp


def sign_checkpoints(session: Session, signer: CheckpointSigner, now: datetime, *, tenant_id: str | None = None,
                     kind: str = "periodic") -> list[Checkpoint]:
    """Sign a checkpoint of every chain (of one tenant, or all) whose head moved since its last
    signed checkpoint. The entries since that checkpoint are verified first: a chain that does
    not verify is not signed (logged and counted), so a checkpoint never vouches for tampering."""
    q = select(HEADS).order_by(HEADS.c.tenant_id, HEADS.c.category)
    if tenant_id is not None:
        q = q.where(HEADS.c.tenant_id == tenant_id)
    keys = signer.verifier_keys()
    made: list[Checkpoint] = []
    for head in session.execute(q).all():
        key = (head.tenant_id, head.category)
        points, _ = _checkpoints(session, key, keys)
        start = points[-1] if points else SignedPoint(0, chain.GENESIS, "genesis")
        if head.last_seq <= start.tenant_seq:
            continue
        verifier = ChainVerifier(key[1], start.tenant_seq, start.head_hash, {})
        _replay(verifier, _entries_after(session, key, start.tenant_seq))
        mismatch = verifier.finish(int(head.last_seq), head.head_hash)
        if mismatch is not None:
            metrics.REFUSED.labels("checkpoint").inc()
            log.error("audit chain does not verify; checkpoint not signed",
                      extra={"chain_tenant": key[0], "category": key[1], "tenant_seq": mismatch.tenant_seq,
                             "reason": mismatch.reason})
            continue
        made.append(_sign(session, signer, key, int(head.last_seq), head.head_hash, now, kind))
    return made


# --- retention ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    tenant_id: str
    category: str
    through_seq: int
    entries: int


def purge_expired(session: Session, signer: CheckpointSigner, now: datetime) -> list[Purged]:
    """Delete each chain's entries past their retention (rules/retention.py), oldest first and
    only as a prefix: up to the first entry still within it. The deleted prefix is verified and
    then summarised by a signed `purge` checkpoint at its last entry, from which verification
    starts afterwards. A prefix that does not verify is kept (logged, counted)."""
    keys = signer.verifier_keys()
    done: list[Purged] = []
    for listed in session.execute(select(HEADS.c.tenant_id, HEADS.c.category)
                                  .order_by(HEADS.c.tenant_id, HEADS.c.category)).all():
        key = (listed.tenant_id, listed.category)
        if not _purge_lock(session, key):
            continue  # another replica is purging this chain right now
        # Read after the lock: a purge that committed meanwhile is seen, and leaves nothing to do.
        head = session.execute(select(HEADS).where(HEADS.c.tenant_id == key[0],
                                                   HEADS.c.category == key[1])).first()
        if head is None:
            continue
        cut = retention.cutoff(key[1], now)
        first_kept = session.execute(select(func.min(ENTRIES.c.tenant_seq))
                                     .where(_of_chain(*key), ENTRIES.c.occurred_at >= cut)).scalar_one_or_none()
        through = int(first_kept) - 1 if first_kept is not None else int(head.last_seq)
        points, _ = _checkpoints(session, key, keys)
        purges = [p for p in points if p.kind == "purge"]
        purged_so_far = purges[-1].tenant_seq if purges else 0
        if through <= purged_so_far:
            continue
        earlier = [p for p in points if p.tenant_seq <= through]
        start = earlier[-1] if earlier else SignedPoint(0, chain.GENESIS, "genesis")
        verifier = ChainVerifier(key[1], start.tenant_seq, start.head_hash,
                                 {p.tenant_seq: p.head_hash for p in points})
        _replay(verifier, _entries_after(session, key, start.tenant_seq, through))
        if verifier.mismatch is not None or verifier.last_seq != through:
            metrics.REFUSED.labels("purge").inc()
            log.error("audit chain prefix does not verify; not purged",
                      extra={"chain_tenant": key[0], "category": key[1], "through_seq": through})
            continue
        _sign(session, signer, key, through, verifier.prev, now, "purge")
        doomed = select(ENTRIES.c.seq).where(_of_chain(*key), ENTRIES.c.tenant_seq <= through)
        session.execute(delete(TARGETS).where(TARGETS.c.entry_seq.in_(doomed)))
        result = session.execute(delete(ENTRIES).where(_of_chain(*key), ENTRIES.c.tenant_seq <= through))
        n = int(result.rowcount or 0)  # type: ignore[attr-defined]
        metrics.PURGED.labels(key[1]).inc(n)
        done.append(Purged(key[0], key[1], through, n))
    return done


def _purge_lock(session: Session, key: ChainKey) -> bool:
    """Only one purge of a chain at a time, with several replicas: on PostgreSQL a
    transaction-level advisory lock on the chain, taken without waiting (a replica finding it
    taken skips the chain; the lock goes with the transaction). Not the head row's FOR UPDATE,
    which would hold the chain's ingest for as long as the prefix takes to verify. On SQLite the
    transaction already holds the database's only write lock (BEGIN IMMEDIATE), so a second purge
    runs after the first has committed and finds its checkpoint."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    digest = hashlib.sha256(f"roumu.audit_log.purge/{key[0]}/{key[1]}".encode()).digest()
    lock_id = int.from_bytes(digest[:8], "big", signed=True)
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": lock_id}).scalar_one())


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    category: str
    start_seq: int  # entries up to here were purged, summarised by a signed checkpoint
    last_seq: int
    entries_checked: int
    checkpoints_checked: int
    mismatch: Mismatch | None


@dataclass(frozen=True)
class VerifyReport:
    tenant_id: str
    verified_at: datetime
    chains: list[ChainReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.mismatch is None for c in self.chains)

    @property
    def first_mismatch(self) -> Mismatch | None:
        return next((c.mismatch for c in self.chains if c.mismatch is not None), None)


def verify_chain(session: Session, key: ChainKey, keys: Sequence[VerifierKey],
                 external: Sequence[CheckpointBody] = ()) -> ChainReport:
    """Replay one chain from its last purge checkpoint against every signed checkpoint (stored, or
    exported earlier and handed back in `external`) and its head. The first mismatch is named;
    a stored checkpoint whose signature fails counts as one at its sequence number."""
    points, bad = _checkpoints(session, key, keys)
    points += [SignedPoint(b.tenant_seq, b.head_hash, b.kind) for b in external if b.chain == key]
    purges = [p for p in points if p.kind == "purge"]
    start = max(purges, key=lambda p: p.tenant_seq) if purges else SignedPoint(0, chain.GENESIS, "genesis")
    signed: dict[int, str] = {p.tenant_seq: p.head_hash for p in points if p.tenant_seq > start.tenant_seq}
    # A copy kept elsewhere wins over the stored checkpoint at the same point.
    signed.update({b.tenant_seq: b.head_hash for b in external if b.chain == key and b.tenant_seq > start.tenant_seq})
    verifier = ChainVerifier(key[1], start.tenant_seq, start.head_hash, signed)
    _replay(verifier, _entries_after(session, key, start.tenant_seq))
    head = session.execute(select(HEADS.c.last_seq, HEADS.c.head_hash).where(
        HEADS.c.tenant_id == key[0], HEADS.c.category == key[1])).first()
    mismatch = verifier.finish(int(head.last_seq) if head else None, head.head_hash if head else None)
    forged = [s for s in bad if s > start.tenant_seq]
    if forged and (mismatch is None or forged[0] < mismatch.tenant_seq):
        mismatch = Mismatch(key[1], forged[0], None, chain.SIGNATURE,
                            "a stored checkpoint's signature does not verify: the checkpoint was changed")
    return ChainReport(key[1], start.tenant_seq, verifier.last_seq, verifier.checked, verifier.checkpoints_matched,
                       mismatch)


def verify_tenant(session: Session, signer: CheckpointSigner, tenant_id: str, now: datetime,
                  notes: Sequence[str] = ()) -> VerifyReport:
    """Verify both chains of a tenant. `notes`: signed checkpoints exported earlier (NoteError when
    one is malformed, not signed by an audit key, or of another tenant)."""
    keys = signer.verifier_keys()
    external = []
    for note_text in notes:
        body = open_note(note_text, keys)
        if body.chain[0] != tenant_id or body.chain[1] not in retention.CATEGORIES:
            raise NoteError("the checkpoint is not one of this tenant's chains")
        external.append(body)
    report = VerifyReport(tenant_id, now)
    for category in retention.CATEGORIES:
        report.chains.append(verify_chain(session, (tenant_id, category), keys, external))
    return report


def verify_all(session: Session, signer: CheckpointSigner) -> int:
    """Verify every chain; answers how many failed (and sets the verification metrics)."""
    keys = signer.verifier_keys()
    failed = 0
    for t, c in session.execute(select(HEADS.c.tenant_id, HEADS.c.category)).all():
        result = verify_chain(session, (t, c), keys)
        if result.mismatch is not None:
            failed += 1
            log.error("audit chain verification failed",
                      extra={"chain_tenant": t, "category": c, "tenant_seq": result.mismatch.tenant_seq,
                             "reason": result.mismatch.reason})
    metrics.VERIFICATION_FAILED_CHAINS.set(failed)
    metrics.VERIFICATION_OK.set(0 if failed else 1)
    return failed
