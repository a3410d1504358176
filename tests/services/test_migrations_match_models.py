"""Each service's alembic history builds exactly the tables its models declare.

A model change without a migration (or a migration that drifts from the model) fails here, on
SQLite and on PostgreSQL alike, before it fails on someone's production database."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from shared.db import make_engine
from shared.migrations import upgrade
from shared.topology import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def _services_with_migrations() -> list[str]:
    """Services present in the topology with a migrations/ folder and a models.Base."""
    found = []
    for s in SERVICES:
        if not (ROOT / "services" / s.name / "migrations").is_dir():
            continue
        try:
            models = importlib.import_module(f"services.{s.name}.models")
        except ModuleNotFoundError:
            continue
        if hasattr(models, "Base"):
            found.append(s.name)
    return found


@pytest.mark.parametrize("service", _services_with_migrations())
def test_migrations_match_models(service, test_dbs):
    # A database of its own, migrated from empty: the shared session databases may hold extras.
    url = test_dbs.create(f"{test_dbs.prefix}_mig_{service}_{uuid.uuid4().hex[:6]}")
    upgrade(ROOT / "services" / service / "migrations", url)
    metadata: MetaData = importlib.import_module(f"services.{service}.models").Base.metadata
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            diff = compare_metadata(ctx, metadata)
    finally:
        engine.dispose()
    # alembic's own bookkeeping table is not in the models.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
    assert diff == [], f"{service}: migrations differ from models:\n" + "\n".join(map(repr, diff))
