"""The event envelope every service publishes and consumes.

Events carry ids and facts, never My Number, passwords or TOTP secrets. The subject is
`roumu.<service>.<aggregate>.<event>`; each type has a JSON Schema in contracts/events/."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.logging import SECRET_KEYS
from shared.request_context import current_request_id

SUBJECT = re.compile(r"^roumu\.[a-z_]+\.[a-z_]+\.[a-z_]+$")


# The validation context of events read back from the stream (EventEnvelope.from_json).
INBOUND: dict[str, bool] = {"inbound": True}


class Actor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["user", "partner", "service", "system", "operator"]
    id: str
    ip: str | None = None


SYSTEM = Actor(kind="system", id="system")


class EventEnvelope(BaseModel):
    """Ids and facts of one thing that happened. `type` is also the NATS subject."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    tenant_id: str | None
    actor: Actor
    # Ids of what the event is about, e.g. {"tenant_id": ..., "user_id": ...}.
    subject: dict[str, str]
    trace_id: str | None = Field(default_factory=current_request_id)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _subject_shape(cls, v: str) -> str:
        if not SUBJECT.match(v):
            raise ValueError(f"event type {v!r} is not roumu.<service>.<aggregate>.<event>")
        return v

    @field_validator("data")
    @classmethod
    def _no_secrets(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        # Checked where an event is made, which is where a secret would enter the stream; an event
        # read back from the stream (`from_json`) passed this check when it was published, and
        # re-walking every payload cost each consumer ~10 % of its per-message time.
        if info.context is INBOUND:
            return v
        bad = _secret_keys(v)
        if bad:
            raise ValueError(f"event data must not carry secrets: {sorted(bad)}")
        return v

    @property
    def aggregate_id(self) -> str:
        """The id events of one aggregate are ordered by: the first subject id."""
        return next(iter(self.subject.values()), "")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes) -> EventEnvelope:
        """An event read from the stream (validated as an envelope; see `_no_secrets`)."""
        return cls.model_validate_json(raw, context=INBOUND)


def _secret_keys(obj: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "menus" and isinstance(v, dict):
                # Menu grants: the keys name menus (my_number_unmasked is a permission, not a
                # number); the levels beside them are still checked.
                found |= _secret_keys(list(v.values()))
                continue
            # Names of facts about a secret, not the secret: ids, masks, flags, rules
            # (totp_required, password_policy: tenant settings, whose values are checked too).
            if SECRET_KEYS.search(str(k)) and not str(k).endswith(
                    ("_id", "_masked", "_registered", "_set", "_required", "_policy")):
                found.add(str(k))
            found |= _secret_keys(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= _secret_keys(v)
    return found
