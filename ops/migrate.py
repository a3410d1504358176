"""Bring every service's database to its latest migration: `python -m ops.migrate [service ...]`."""

from __future__ import annotations

import sys
from pathlib import Path

from shared.migrations import upgrade
from shared.settings import CommonSettings, get_settings
from shared.topology import SERVICES

ROOT = Path(__file__).resolve().parents[1]


def migrations_dir(service: str) -> Path:
    return ROOT / "services" / service / "migrations"


def migrate(services: list[str] | None = None, settings: CommonSettings | None = None) -> None:
    settings = settings or get_settings()
    for s in SERVICES:
        if services and s.name not in services:
            continue
        if migrations_dir(s.name).is_dir():
            upgrade(migrations_dir(s.name), settings.database_url(s.name))


if __name__ == "__main__":
    migrate(sys.argv[1:] or None)
    print("migrated")
