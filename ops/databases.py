"""Make sure every service's database exists before migrating it.

SQLite files are created by the engine on first use. A PostgreSQL database is created here when
missing (connecting to the server's `postgres` database), so the same `make run` or compose init
works against an empty server; a role without CREATEDB gets a clear message instead."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from shared.settings import CommonSettings
from shared.topology import SERVICES


class DatabaseSetupError(RuntimeError):
    pass


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database `url` names when it does not exist; True when created."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return False
    name = parsed.database
    if not name:
        raise DatabaseSetupError(f"no database name in {parsed.render_as_string(hide_password=True)}")
    admin = parsed.set(database="postgres")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists:
                return False
            quoted = conn.dialect.identifier_preparer.quote_identifier(name)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    except SQLAlchemyError as exc:
        where = parsed.render_as_string(hide_password=True)
        raise DatabaseSetupError(f"cannot check or create the database {where}: {exc}") from exc
    finally:
        engine.dispose()


def ensure_databases(settings: CommonSettings, services: list[str] | None = None) -> list[str]:
    """ensure_database for every service (or the ones named); returns the names created."""
    created = []
    for s in SERVICES:
        if services is not None and s.name not in services:
            continue
        if ensure_database(settings.database_url(s.name)):
            created.append(s.name)
    return created
