"""The services' database pools are sized from one connection budget (issue 29 item 12): nine
services × (10 + 10 overflow) could open 180 connections to a PostgreSQL that allows 100, and
the stack held 96–100 idle. Now every process's pool (pool_size + max_overflow) is its share of
ROUMU_DB_CONNECTION_BUDGET over the services and their replicas, and the default fits PostgreSQL's
default max_connections (100) with a reserve for administration, backups and migrations."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData
from sqlalchemy.pool import QueuePool

from shared.db import pool_limits
from shared.outbox import Messaging
from shared.service_app import create_service_app
from shared.settings import CommonSettings
from shared.topology import SERVICES

PG = "postgresql+psycopg://u@db:5432/roumu_jimukumiai"
POSTGRES_DEFAULT_MAX_CONNECTIONS = 100


def stack_total(settings: CommonSettings) -> int:
    opts = settings.db_pool_options(PG)
    return len(SERVICES) * settings.db_replicas * (opts["pool_size"] + opts["max_overflow"])


def test_the_default_budget_fits_postgresql_defaults_with_a_reserve() -> None:
    s = CommonSettings()
    assert s.db_connection_budget <= POSTGRES_DEFAULT_MAX_CONNECTIONS - 10
    assert stack_total(s) <= s.db_connection_budget


# The last: the smallest budget that works, two connections per service process (it was 18 with nine
# services; shakai_hoken made ten).
@pytest.mark.parametrize(("budget", "replicas"), [(90, 1), (90, 2), (400, 3), (2 * len(SERVICES), 1)])
def test_every_process_gets_its_share_and_the_total_stays_within_the_budget(budget: int, replicas: int) -> None:
    s = CommonSettings(db_connection_budget=budget, db_replicas=replicas)
    opts = s.db_pool_options(PG)
    assert opts["pool_size"] >= 1 and opts["max_overflow"] >= 0
    assert stack_total(s) <= budget
    assert opts["pool_timeout"] == s.db_pool_timeout


def test_a_budget_too_small_for_the_processes_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="ROUMU_DB_CONNECTION_BUDGET"):
        pool_limits(10, 9)


def test_sqlite_pools_are_left_alone() -> None:
    assert CommonSettings().db_pool_options("sqlite:///var/db/auth.db") == {}


def test_a_running_service_opens_no_more_than_its_share(settings: CommonSettings) -> None:
    app = create_service_app("jimukumiai", Messaging(MetaData()), [], settings=settings, background=False,
                             purge=False)
    with TestClient(app):
        pool = app.state.runtime.db.engine.pool
        if not settings.database_url("jimukumiai").startswith("postgresql"):
            pytest.skip("SQLite: a file per service, no server connections to budget (runs in make test-pg)")
        assert isinstance(pool, QueuePool)
        opts = settings.db_pool_options(settings.database_url("jimukumiai"))
        assert (pool.size(), pool._max_overflow) == (opts["pool_size"], opts["max_overflow"])
        assert len(SERVICES) * (pool.size() + pool._max_overflow) <= settings.db_connection_budget
