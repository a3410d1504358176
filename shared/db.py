"""SQLAlchemy 2 engine and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Engine, MetaData, Table, TypeDecorator, create_engine, event, text
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


class _WriterQueue:
    """SQLite admits one writer; one waiting on busy_timeout polls with growing sleeps (up to
    100 ms each), so under a burst of writes a free lock sat unused while waiters slept, and the
    p99 of a one-row update passed two seconds. Writers of this process queue on a lock of their
    own instead, taken before BEGIN IMMEDIATE and given back at commit or rollback (and, should
    neither be seen, when the connection goes back to the pool); other processes still meet
    SQLite's own lock and busy_timeout. A writer that waits longer than busy_timeout goes on to
    BEGIN IMMEDIATE regardless, so a lock never given back slows writers, never stops them."""

    KEY = "roumu_writer_queue"

    def __init__(self, engine: Engine, wait_s: float = 10.0) -> None:
        self.lock = threading.Lock()
        self.wait_s = wait_s
        event.listen(engine, "begin", self.begin)
        event.listen(engine, "commit", self.end)
        event.listen(engine, "rollback", self.end)
        event.listen(engine.pool, "checkin", self.checkin)

    def begin(self, conn: Connection) -> None:
        if conn.get_execution_options().get("sqlite_begin") == "DEFERRED":
            conn.exec_driver_sql("BEGIN")
            return
        held = self.lock.acquire(timeout=self.wait_s)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if held:
                self.lock.release()
            raise
        if held:
            conn.info[self.KEY] = True

    def _release(self, info: dict[Any, Any]) -> None:
        if info.pop(self.KEY, False):
            self.lock.release()

    def end(self, conn: Connection) -> None:
        self._release(conn.info)

    def checkin(self, _dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            self._release(record.info)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if "///" in url and path and path != ":memory:" and "poolclass" not in kwargs:
            # Keep a connection per thread that may hold one (anyio's 40 request threads, the
            # default executor's relay and consumers): with the default 5 (+10 overflow, closed
            # when returned), a request burst opened and closed a connection per request, each
            # opening running the pragmas below.
            kwargs.setdefault("pool_size", 50)
            kwargs.setdefault("max_overflow", 10)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take the write lock at BEGIN instead,
        # so two writers queue on busy_timeout rather than failing on upgrade. A connection marked
        # read-only (Database.sessions: execution option sqlite_begin="DEFERRED") begins deferred:
        # WAL gives it a snapshot without the lock, so reads neither wait for writers nor queue
        # behind each other on busy_timeout's sleeps (a one-row GET had p99 > 1 s at 32
        # connections when every read took the write lock).
        _WriterQueue(engine)

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
        # `sessions()` is for reads (what it writes is never committed: writes go through
        # `transaction()`); on SQLite its transactions begin deferred, without the write lock.
        reader = self.engine.execution_options(sqlite_begin="DEFERRED") if url.startswith("sqlite") else self.engine
        self.sessions = sessionmaker(reader, expire_on_commit=False)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together or not at all (the unit of work)."""
        with self._writer() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
