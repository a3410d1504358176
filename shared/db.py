"""SQLAlchemy 2 engine and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Dialect, Engine, MetaData, Table, TypeDecorator, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names, so alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored and answered in UTC. SQLite keeps no zone, so values come back naive:
    this puts the zone back, and refuses naive values on the way in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Each service declares its own Base from this shape (own metadata, own database)."""

    metadata = new_metadata()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the relay read while a request writes; busy_timeout waits instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take the write lock at BEGIN instead,
        # so two writers queue on busy_timeout rather than failing on upgrade.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

        @event.listens_for(engine, "connect")
        def _no_pysqlite_tx(dbapi_conn: Any, _r: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
    return create_engine(url, **kwargs)


def pool_limits(budget: int, processes: int) -> tuple[int, int]:
    """(pool_size, max_overflow) of one process when `processes` share `budget` connections to one
    server: half kept open when idle, half opened under load, together never above the share."""
    share = budget // max(processes, 1)
    if share < 2:
        raise ValueError(f"ROUMU_DB_CONNECTION_BUDGET={budget} leaves {share} connection(s) to each of "
                         f"{processes} service processes; at least 2 each are needed (raise the budget and "
                         "the server's max_connections, or run fewer replicas)")
    pool_size = (share + 1) // 2
    return pool_size, share - pool_size


def insert_unless_present(session: Session, table: Table, values: dict[str, Any], key: list[str]) -> bool:
    """INSERT … ON CONFLICT (key) DO NOTHING, on PostgreSQL and SQLite: True when this call inserted
    the row. For rows two writers may create at once (a seed beside a consumer, two runs of a job),
    where a read-then-insert lets both insert and one of them fail on the unique key."""
    dialect = session.get_bind().dialect.name
    stmt = (pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)).values(values)
    return session.execute(stmt.on_conflict_do_nothing(index_elements=key).returning(*table.primary_key)).first() \
        is not None


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class Database:
    """One service's database: engine plus a session factory and a transaction helper."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together or not at all (the unit of work)."""
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
