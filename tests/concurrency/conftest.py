"""Fixtures of the concurrency suite and the figures it prints at the end of a run."""

from __future__ import annotations

import pytest

from tests.concurrency.harness import FIGURES
from tests.support.databases import TestDatabases


@pytest.fixture(autouse=True)
def _count_case(request: pytest.FixtureRequest) -> None:
    if request.node.path.name != "test_route_listing.py":
        FIGURES["cases"] += 1


@pytest.fixture
def on_postgres(test_dbs: TestDatabases) -> bool:
    """True in make test-pg / CI's PostgreSQL run. Most races need PostgreSQL to show (SQLite takes
    its write lock at BEGIN, so two writers never interleave inside a transaction); a case runs on
    both and checks the same invariant, or skips on SQLite with `requires_postgres`."""
    return test_dbs.is_postgres


@pytest.fixture
def requires_postgres(on_postgres: bool) -> None:
    if not on_postgres:
        pytest.skip("the race needs PostgreSQL (SQLite serialises writers): runs in make test-pg and CI")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("concurrency suite figures")
    for key in ("cases", "parallel requests sent", "invariants checked", "5xx seen"):
        terminalreporter.write_line(f"{key}: {FIGURES[key]}")
