"""The 事業所 master in tests: making a 事業所 known to the services' read models.

koyo_hoken, jimukumiai and files refuse writes that refer to a 事業所 their `jigyosho_directory`
does not hold (shared.jigyosho_directory), normally fed by accounts' roumu.accounts.jigyosho.*
through the accounts feed. Tests of one service that name 事業所 ids of their own ("js-1") apply
the same events directly, through the same handler the consumer runs (`JigyoshoSeeder`), like
tests/services/grants.py does for grants. Tests that create the 事業所 in accounts wait for the
read model instead (`wait_for_jigyosho`), as they wait for grants."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.db import Database
from shared.events import Actor, EventEnvelope
from shared.jigyosho_directory import JIGYOSHO_CLOSED, JIGYOSHO_CREATED, JIGYOSHO_UPDATED, JigyoshoDirectory
from shared.settings import CommonSettings

DIRECTORY_SERVICES = ("koyo_hoken", "jimukumiai", "files", "shakai_hoken")
ACCOUNTS_ACTOR = Actor(kind="user", id="accounts-admin")


def jigyosho_data(name: str = "株式会社テスト商事", *, status: str = "active", closed_on: str | None = None,
                  labour_insurance_number: str | None = "13101123456000",
                  employment_insurance_office_number: str | None = "1301-123456-7",
                  koyo_jigyo_kubun: str = "ippan") -> dict[str, Any]:
    """The `data` of roumu.accounts.jigyosho.* (contracts/events), as accounts publishes it."""
    return {"name": name, "name_kana": "カブシキガイシャテストショウジ",
            "labour_insurance_number": labour_insurance_number,
            "employment_insurance_office_number": employment_insurance_office_number, "rousai_gyoshu_code": "94",
            "koyo_jigyo_kubun": koyo_jigyo_kubun, "headcount": 12, "status": status, "closed_on": closed_on}


def jigyosho_event(event_type: str, tenant_id: str, jigyosho_id: str, *, occurred_at: datetime | None = None,
                   **data: Any) -> EventEnvelope:
    """One accounts 事業所 event (created / updated / closed) with the contract's shape."""
    if event_type == JIGYOSHO_CLOSED:
        data.setdefault("status", "closed")
        data.setdefault("closed_on", "2025-03-31")
    return EventEnvelope(type=event_type, tenant_id=tenant_id, actor=ACCOUNTS_ACTOR,
                         subject={"jigyosho_id": jigyosho_id, "tenant_id": tenant_id},
                         occurred_at=occurred_at or datetime.now(UTC), data=jigyosho_data(**data))


def directory_of(service: str) -> JigyoshoDirectory:
    directory: JigyoshoDirectory = importlib.import_module(f"services.{service}.models").jigyosho_directory
    return directory


class JigyoshoSeeder:
    """Applies accounts' 事業所 events to the read models of service databases, in tests."""

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self._dbs: dict[str, Database] = {}

    def db(self, service: str) -> Database:
        if service not in self._dbs:
            self._dbs[service] = Database(self.settings.database_url(service))
        return self._dbs[service]

    def apply(self, event: EventEnvelope, services: Iterable[str] = DIRECTORY_SERVICES) -> None:
        for service in services:
            with self.db(service).transaction() as session:
                directory_of(service).handle(session, event)

    def open(self, tenant_id: str, *jigyosho_ids: str, services: Iterable[str] = DIRECTORY_SERVICES,
             **data: Any) -> None:
        """The 事業所 were created in accounts (roumu.accounts.jigyosho.created) a moment ago."""
        at = datetime.now(UTC) - timedelta(seconds=1)
        for jid in jigyosho_ids:
            self.apply(jigyosho_event(JIGYOSHO_CREATED, tenant_id, jid, occurred_at=at, **data), services)

    def update(self, tenant_id: str, jigyosho_id: str, *, services: Iterable[str] = DIRECTORY_SERVICES,
               occurred_at: datetime | None = None, **data: Any) -> EventEnvelope:
        event = jigyosho_event(JIGYOSHO_UPDATED, tenant_id, jigyosho_id, occurred_at=occurred_at, **data)
        self.apply(event, services)
        return event

    def close(self, tenant_id: str, jigyosho_id: str, *, closed_on: str = "2025-03-31",
              services: Iterable[str] = DIRECTORY_SERVICES, **data: Any) -> EventEnvelope:
        """The 事業所 was closed (廃止) in accounts (roumu.accounts.jigyosho.closed)."""
        event = jigyosho_event(JIGYOSHO_CLOSED, tenant_id, jigyosho_id, closed_on=closed_on, **data)
        self.apply(event, services)
        return event

    def row(self, service: str, tenant_id: str, jigyosho_id: str) -> Any:
        with self.db(service).sessions() as session:
            return directory_of(service).get(session, tenant_id, jigyosho_id)

    def dispose(self) -> None:
        for db in self._dbs.values():
            db.dispose()


def wait_for_jigyosho(settings: CommonSettings, tenant_id: str, jigyosho_id: str, *,
                      services: Iterable[str] = DIRECTORY_SERVICES, status: str = "active",
                      name: str | None = None, timeout: float = 15.0) -> None:
    """Wait until the services' read models hold the 事業所 (created in accounts, the event on its
    way through NATS) with this status (and name). A functional bound, not a performance one."""
    deadline = time.monotonic() + timeout
    pending = list(services)
    dbs = {s: Database(settings.database_url(s)) for s in pending}
    try:
        while pending:
            for service in list(pending):
                with dbs[service].sessions() as session:
                    entry = directory_of(service).get(session, tenant_id, jigyosho_id)
                if entry is not None and entry.status == status and (name is None or entry.name == name):
                    pending.remove(service)
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"事業所 {jigyosho_id} not {status} in {pending} within {timeout} s")
            time.sleep(0.05)
    finally:
        for db in dbs.values():
            db.dispose()


@pytest.fixture(scope="session")
def jigyosho(settings: CommonSettings) -> Iterator[JigyoshoSeeder]:
    """Import into a conftest (or a test module) to use: `jigyosho.open(tenant, "js-1")`."""
    seeder = JigyoshoSeeder(settings)
    yield seeder
    seeder.dispose()
