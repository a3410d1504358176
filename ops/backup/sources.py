"""Dumping and restoring one service database.

* SQLite: the online backup API (`sqlite3.Connection.backup`): a consistent copy while services
  keep writing; restored by putting the file in place.
* PostgreSQL: `pg_dump -Fc` (custom format: compressed, restorable table by table), taken inside a
  REPEATABLE READ transaction whose exported snapshot the dump uses too, so the row counts in the
  manifest are those of the dump exactly; restored with `pg_restore` into an empty database.
  pg_dump must be the server's major version or newer."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from ops.migrate import migrations_dir


class SourceError(RuntimeError):
    pass


@dataclass(frozen=True)
class Dumped:
    kind: str  # sqlite | postgresql
    tables: dict[str, int]
    revision: str | None


def kind_of(url: str) -> str:
    driver = make_url(url).drivername
    if driver.startswith("sqlite"):
        return "sqlite"
    if driver.startswith("postgresql"):
        return "postgresql"
    raise SourceError(f"unsupported database {driver}")


def sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise SourceError("an in-memory SQLite database cannot be backed up")
    return Path(path)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and an environment carrying it (not in argv)."""
    u: URL = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    bare = u.set(drivername="postgresql", password=None)
    return bare.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise SourceError(f"{name} not found on PATH: install the PostgreSQL client tools (the server's major version)")
    return found


def _connect(url: str, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    u = make_url(url).set(drivername="postgresql")
    return psycopg.connect(u.render_as_string(hide_password=False), autocommit=autocommit)


# --- counting ------------------------------------------------------------------------------

def _sqlite_counts(conn: sqlite3.Connection) -> tuple[dict[str, int], str | None]:
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    counts = {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}  # noqa: S608
    revision = None
    if "alembic_version" in counts:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return counts, revision


def _pg_counts(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[dict[str, int], str | None]:
    rows = conn.execute(
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2").fetchall()
    counts: dict[str, int] = {}
    for schema, table in rows:
        key = str(table) if schema == "public" else f"{schema}.{table}"
        q = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(str(schema)), sql.Identifier(str(table)))
        row = conn.execute(q).fetchone()
        counts[key] = int(row[0]) if row else 0  # type: ignore[call-overload]
    revision = None
    if "alembic_version" in counts:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = str(row[0]) if row else None
    return counts, revision


def table_counts(url: str) -> tuple[dict[str, int], str | None]:
    """Rows per table and the alembic revision of a live database."""
    if kind_of(url) == "sqlite":
        lite = sqlite3.connect(sqlite_path(url))
        try:
            return _sqlite_counts(lite)
        finally:
            lite.close()
    with _connect(url) as conn:
        return _pg_counts(conn)


# --- dump ---------------------------------------------------------------------------------

def dump(url: str, out: Path) -> Dumped:
    if kind_of(url) == "sqlite":
        return dump_sqlite(url, out)
    return dump_postgres(url, out)


def dump_sqlite(url: str, out: Path) -> Dumped:
    path = sqlite_path(url)
    if not path.exists():
        raise SourceError(f"SQLite database {path} does not exist")
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(out)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        counts, revision = _sqlite_counts(dst)
    finally:
        dst.close()
        src.close()
    return Dumped("sqlite", counts, revision)


def dump_postgres(url: str, out: Path) -> Dumped:
    conninfo, env = _libpq(url)
    with _connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        snapshot = str(row[0])
        counts, revision = _pg_counts(conn)
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--no-sync", f"--file={out}",
             f"--dbname={conninfo}"], env=env, capture_output=True, text=True, check=False)
        conn.rollback()
    if done.returncode != 0:
        raise SourceError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
    return Dumped("postgresql", counts, revision)


# --- restore ------------------------------------------------------------------------------

def restore(kind: str, member: Path, url: str) -> None:
    """Into `url`: a SQLite file that must not exist yet, or an existing empty PostgreSQL database."""
    if kind != kind_of(url):
        raise SourceError(f"a {kind} dump cannot be restored into {kind_of(url)}")
    if kind == "sqlite":
        target = sqlite_path(url)
        if target.exists():
            raise SourceError(f"{target} exists: restore into a scratch location")
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{member}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
            src.close()
        return
    conninfo, env = _libpq(url)
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
         f"--dbname={conninfo}", str(member)], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SourceError(f"pg_restore failed: {done.stderr.strip()[-500:]}")


def create_database(url: str) -> None:
    u = make_url(url)
    with _connect(u.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(u.database))))


def drop_database(url: str) -> None:
    u = make_url(url)
    with _connect(u.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(u.database))))


# --- consistency --------------------------------------------------------------------------

def alembic_heads(service: str) -> list[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    return list(ScriptDirectory.from_config(cfg).get_heads())


def integrity_problems(url: str) -> list[str]:
    """SQLite's integrity_check and foreign_key_check; PostgreSQL checks constraints on restore."""
    if kind_of(url) != "sqlite":
        return []
    conn = sqlite3.connect(sqlite_path(url))
    try:
        result = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
        fks = conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()
    problems = [r for r in result if r != "ok"]
    problems += [f"foreign key: {tuple(r)}" for r in fks]
    return problems
