"""The log screen's first page reads its 100 rows from an index in order, instead of sorting the
tenant's whole window: with 100,000 entries SQLite took 2.7 s for the page (a temporary B-tree for
ORDER BY seq), 0.3 ms with (tenant_id, category, seq) (bench/bench_console.py). The plan, not a
time, is what is checked here, on SQLite's own EXPLAIN QUERY PLAN of the service's statement."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from services.audit_log.models import Base
from services.audit_log.repository import EntryFilter, entries_query

NOW = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize("flt", [EntryFilter(category="operation"), EntryFilter(category="login"),
                                 EntryFilter(category="operation", action="roumu.accounts.")])
def test_a_page_of_one_category_is_read_in_index_order(flt: EntryFilter) -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    stmt = entries_query("tenant-1", flt, now=NOW, jigyosho_scope=None, before=None, limit=100)
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as c:
        plan = " | ".join(str(row[-1]) for row in c.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "TEMP B-TREE" not in plan, plan
    assert "ix_audit_entries_tenant_category_seq" in plan, plan
