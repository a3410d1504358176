"""Request and response bodies of the audit-log API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int = Field(description="row number of the entry in this service (the cursor's key)")
    event_id: str
    category: str = Field(description="`login` (login history and lockouts, kept 1 year) or `operation` (90 days)")
    tenant_seq: int = Field(description="position of the entry in its tenant's chain of its category")
    type: str
    actor_kind: str
    actor_id: str
    actor_ip: str | None
    jigyosho_id: str | None
    subject: dict[str, str]
    data: dict[str, object]
    trace_id: str | None = Field(description="request id of the request that caused the event")
    occurred_at: datetime
    recorded_at: datetime


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null at the end")


class CheckpointOut(BaseModel):
    id: int
    category: str
    tenant_seq: int
    head_hash: str
    signed_at: datetime
    kind: str = Field(description="`periodic`, `manual`, or `purge` (the entries up to it were deleted)")
    key_id: str
    note: str = Field(description="the checkpoint as a C2SP signed note: keep a copy elsewhere")


class CheckpointPage(BaseModel):
    items: list[CheckpointOut]
    next_cursor: str | None


class VerifyIn(BaseModel):
    notes: list[str] = Field(default_factory=list, max_length=1000,
                             description="signed checkpoint notes exported earlier and kept elsewhere")


class MismatchOut(BaseModel):
    category: str
    tenant_seq: int
    event_id: str | None = Field(description="the entry that does not match; null when it is missing")
    reason: str = Field(description="`changed`, `missing`, `checkpoint`, `head` or `signature`")
    detail: str


class ChainOut(BaseModel):
    category: str
    start_seq: int = Field(description="entries up to here were purged by retention (a signed checkpoint)")
    last_seq: int
    entries_checked: int
    checkpoints_checked: int
    mismatch: MismatchOut | None


class VerifyOut(BaseModel):
    tenant_id: str
    ok: bool
    verified_at: datetime
    first_mismatch: MismatchOut | None
    chains: list[ChainOut]


class CheckpointKeysOut(BaseModel):
    key_name: str
    keys: list[dict[str, str]]
    verifier_keys: list[str] = Field(description="C2SP signed-note verifier keys (name+id+key)")
