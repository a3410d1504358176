"""Response bodies of the audit-log API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    event_id: str
    type: str
    actor_kind: str
    actor_id: str
    actor_ip: str | None
    subject: dict[str, str]
    data: dict[str, object]
    trace_id: str | None
    occurred_at: datetime


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_after: int | None
