"""Work that one replica of a service does at a time (a background pass over shared rows).

On PostgreSQL, a session advisory lock per name, held for the block: a replica that finds it taken
skips its turn (the holder is doing the work). SQLite: one process per database file, so always
this one. The outbox relay keeps its own, longer-lived lock (shared/relay.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import text

from shared.db import Database, is_postgres


def lock_key(name: str) -> int:
    # Stable across processes (hash() is salted per process), within PostgreSQL's bigint.
    return int.from_bytes(hashlib.sha256(f"roumu-leader:{name}".encode()).digest()[:8], "big") >> 1


@contextmanager
def exclusive(db: Database, name: str) -> Iterator[bool]:
    """`with exclusive(db, "efiling-worker") as mine: if mine: ...` — True for one replica at a time."""
    if not is_postgres(db.engine):
        yield True
        return
    conn = db.engine.connect()
    try:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(name)}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                with suppress(Exception):  # a dead connection holds no lock any more
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
                    conn.commit()
    finally:
        conn.close()
