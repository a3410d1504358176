"""SQLite: reads do not take the write lock; writers of one process queue and always get the lock back."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/t.db")
    with database.transaction() as session:
        session.execute(text("CREATE TABLE t (a INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    return database


def test_a_read_goes_on_while_a_write_is_open(db: Database) -> None:
    # Every session began with BEGIN IMMEDIATE before: a read waited for the open write (here it
    # failed with "database is locked" after busy_timeout), and under load reads queued behind
    # each other on busy_timeout's sleeps.
    with db.transaction() as writer:
        writer.execute(text("INSERT INTO t VALUES (2)"))
        with db.sessions() as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1  # the committed snapshot
    with db.sessions() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 2


def test_writers_of_one_process_all_commit_and_a_failed_one_frees_the_lock(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.execute(text("INSERT INTO t VALUES (3)"))
        raise RuntimeError("rolled back")
    with db.engine.connect() as conn:  # begun, never committed: closing it rolls back
        conn.execute(text("INSERT INTO t VALUES (4)"))

    def write(n: int) -> None:
        for _ in range(20):
            with db.transaction() as session:
                session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.sessions() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1 + 8 * 20
