"""Throwaway databases for a test session: SQLite files, or PostgreSQL when ROUMU_TEST_POSTGRES_URL
points at a server (CI sets it); each PostgreSQL database is created here and dropped at the end."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from shared.topology import SERVICES


class TestDatabases:
    __test__ = False  # a helper, not a test class
    def __init__(self, tmp: Path) -> None:
        self.admin_url = os.environ.get("ROUMU_TEST_POSTGRES_URL")
        self.prefix = f"roumu_t_{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        self.created: list[str] = []

    @property
    def is_postgres(self) -> bool:
        return bool(self.admin_url)

    def template(self) -> str:
        if not self.admin_url:
            return f"sqlite:///{self.tmp.as_posix()}/db/{{service}}.db"
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{self.prefix}_{{service}}"

    def create_all(self) -> None:
        for s in SERVICES:
            self.create(f"{self.prefix}_{s.name}")

    def create(self, name: str) -> str:
        """A fresh database (PostgreSQL) or file path (SQLite) with this name; returns its URL."""
        if not self.admin_url:
            return f"sqlite:///{self.tmp.as_posix()}/db/{name}.db"
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return f"{self.admin_url.rsplit('/', 1)[0]}/{name}"

    def drop_all(self) -> None:
        if not self.admin_url or not self.created:
            return
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
