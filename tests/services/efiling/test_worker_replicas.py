"""efiling's background pass runs in one replica at a time (shared/leader.py): two passes at once
would ask e-Gov about the same cases and fetch the same 公文書 twice."""

from __future__ import annotations

from typing import Any

import pytest

from services.efiling.worker import PassResult, Worker
from shared.db import Database
from shared.leader import exclusive
from shared.settings import CommonSettings


class Untouchable:
    """An e-Gov side that must not be used: any attribute asked for is recorded."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.asked.append(name)
        raise AssertionError(f"the pass used egov.{name}")


def test_a_pass_is_skipped_while_another_replica_runs_one(settings: CommonSettings, test_dbs) -> None:
    if not test_dbs.is_postgres:
        pytest.skip("SQLite: one process per database file (runs in make test-pg)")
    db = Database(settings.database_url("efiling"))
    other = Database(settings.database_url("efiling"))  # the other replica's own engine
    egov = Untouchable()
    worker = Worker(db, egov, store=None)  # type: ignore[arg-type]
    try:
        with exclusive(other, "efiling-worker") as theirs:
            assert theirs
            assert worker.run_once() == PassResult()
            assert egov.asked == []
            with exclusive(db, "efiling-worker") as mine:
                assert not mine  # held elsewhere
        # Free again: this replica's pass runs (and reaches e-Gov's clock first).
        with pytest.raises(AssertionError, match=r"egov\.clock"):
            worker.run_once()
    finally:
        db.dispose()
        other.dispose()
