"""Helpers of the shakai_hoken API tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.shakai_hoken import service
from services.shakai_hoken.models import messaging
from shared.clock import FrozenClock
from shared.db import Database
from shared.event_schemas import EventSchemas
from shared.events import Actor, EventEnvelope
from shared.settings import CommonSettings

BASE = "/api/v1/shakai-hoken"
KOYO = Actor(kind="user", id="koyo-staff")


def frozen(y: int, m: int, d: int) -> FrozenClock:
    return FrozenClock(datetime(y, m, d, 3, 0, tzinfo=UTC))  # 12:00 JST


def person_registered(tenant_id: str, jigyosho_id: str, person_id: str | None = None,
                      hire_date: str = "2026-04-01") -> EventEnvelope:
    """koyo_hoken's roumu.koyo_hoken.insured_person.registered, with the contract's shape."""
    pid = person_id or str(uuid.uuid4())
    return EventEnvelope(type="roumu.koyo_hoken.insured_person.registered", tenant_id=tenant_id, actor=KOYO,
                         subject={"insured_person_id": pid, "tenant_id": tenant_id, "jigyosho_id": jigyosho_id},
                         data={"hire_date": hire_date, "weekly_hours": "40", "status": "active"})


class PersonSeeder:
    """Applies koyo_hoken person events to shakai_hoken's read model (no koyo_hoken running)."""

    def __init__(self, settings: CommonSettings) -> None:
        self.db = Database(settings.database_url("shakai_hoken"))

    def register(self, tenant_id: str, jigyosho_id: str, hire_date: str = "2026-04-01") -> str:
        event = person_registered(tenant_id, jigyosho_id, hire_date=hire_date)
        with self.db.transaction() as session:
            service.on_koyo_person_event(session, event)
        return event.subject["insured_person_id"]

    def events(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every event shakai_hoken recorded for the tenant (its outbox), oldest first."""
        table = messaging.outbox
        with self.db.sessions() as session:
            rows = session.execute(select(table.c.payload).order_by(table.c.seq)).scalars().all()
        return [p for p in rows if p.get("tenant_id") == tenant_id]

    def dispose(self) -> None:
        self.db.dispose()


def schema_errors(events: list[dict[str, Any]]) -> list[str]:
    schemas = EventSchemas()
    return [f"{e['type']}: {err}" for e in events for err in schemas.errors(e)]


def office_tokyo(**over: Any) -> dict[str, Any]:
    return {"seiri_kigo": "01-イロハ", "office_number": "12345", "insurer_kind": "kyokai", "prefecture": "13",
            "tokutei_tekiyo": False, **over}
