"""Seeding the permission read model (shared.permissions) of service databases in tests.

Services decide every request from their `permission_grants` rows, normally fed by accounts'
roumu.accounts.user.permissions_changed. Tests of one service write the row directly, through
the same shared function the consumer uses (Permissions.apply_snapshot)."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Iterable, Mapping

from sqlalchemy.exc import IntegrityError

from shared.db import Database
from shared.permissions import MENUS, Permissions, snapshot_data
from shared.settings import CommonSettings

PERMISSION_SERVICES = ("accounts", "koyo_hoken", "jimukumiai", "efiling", "files", "audit_log", "shakai_hoken")
ALL_WRITE = {m: "write" for m in MENUS if m != "my_number_unmasked"}
_counter = itertools.count()


def _version() -> int:
    # Newer than anything seeded before in this session; fits the INTEGER column.
    return 1_000_000 + next(_counter)


class GrantSeeder:
    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self._dbs: dict[str, Database] = {}
        self._seeded: set[tuple[str, str]] = set()

    def db(self, service: str) -> Database:
        if service not in self._dbs:
            self._dbs[service] = Database(self.settings.database_url(service))
        return self._dbs[service]

    def seed(self, tenant_id: str, user_id: str, menus: Mapping[str, str] | None = None, *,
             jigyosho_all: bool = True, jigyosho_ids: Iterable[str] = (), roles: Iterable[str] = ("staff",),
             status: str = "active", services: Iterable[str] = PERMISSION_SERVICES) -> None:
        data = snapshot_data(roles, ALL_WRITE if menus is None else menus, jigyosho_all, jigyosho_ids, status,
                             _version())
        for service in services:
            perms: Permissions = importlib.import_module(f"services.{service}.models").permissions
            for attempt in range(3):
                try:
                    with self.db(service).transaction() as session:
                        perms.apply_snapshot(session, tenant_id, user_id, data)
                    break
                except IntegrityError:
                    # The service's own consumer inserted the user's row from accounts' event at the
                    # same moment (PostgreSQL): applied again, the snapshot compares versions instead.
                    if attempt == 2:
                        raise
        self._seeded.add((tenant_id, user_id))

    def ensure(self, tenant_id: str, user_id: str) -> None:
        """Every menu for writing on every 事業所, once per (tenant, user), unless seeded already."""
        if (tenant_id, user_id) not in self._seeded:
            self.seed(tenant_id, user_id)

    def close(self) -> None:
        for db in self._dbs.values():
            db.dispose()
