"""The event envelope every service publishes and consumes.

Events carry ids and facts, never My Number, passwords or TOTP secrets. The subject is
`roumu.<service>.<aggregate>.<event>`; each type has a JSON Schema in contracts/events/."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache
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

    @field_validator("subject")
    @classmethod
    def _no_numbers_in_ids(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.context is not INBOUND and _secret_keys(v):
            raise ValueError("event subject must not carry secrets")
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


# Names of facts about a secret, not the secret: ids, masks, flags, rules (totp_required,
# password_policy: tenant settings) and permissions (the menu `my_number_unmasked`, whose value is
# a level). Their values are still searched for a number below.
_FACT_SUFFIXES = ("_id", "_masked", "_unmasked", "_registered", "_set", "_required", "_policy")
# Twelve digits (groups of four may be spaced or hyphenated), not inside a longer run of letters or
# digits; a UUID's last group is excluded by `_UUID` below.
_TWELVE = re.compile(r"(?<![0-9A-Za-z])(\d{4})[- ]?(\d{4})[- ]?(\d{4})(?![0-9A-Za-z])")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _my_number_check_digit(first11: str) -> int:
    """総務省令第85号 5条 (as services/koyo_hoken/rules/numbers.py; shared imports no service)."""
    total = sum(int(first11[-n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    return 0 if total % 11 <= 1 else 11 - total % 11


def _holds_my_number(value: str) -> bool:
    """A 12-digit run with a valid My Number check digit (1 in 11 random runs; ids are not runs of
    exactly twelve digits, and UUIDs are cut out first)."""
    if len(value) < 12:  # no room for twelve digits (cutting UUIDs out only shortens it)
        return False
    if len(value) == 36 and _UUID.fullmatch(value):  # an id alone: nothing left once it is cut out
        return False
    for m in _TWELVE.finditer(_UUID.sub("-", value)):
        digits = "".join(m.groups())
        if _my_number_check_digit(digits[:11]) == int(digits[11]):
            return True
    return False


def _secret_keys(obj: Any, key: str = "") -> set[str]:
    """What makes `obj` unfit for an event: keys named like a secret (other than names of facts about
    one), and values that hold a My Number (under any key). The answer names the keys, never values.

    Every event is walked where it is made, so this is on the path of every write: containers go on a
    stack, scalars are judged in place, and values that cannot hold twelve digits — short strings,
    amounts, counts, None, booleans — are passed over without a call (a recursive call and a set per
    value were a fifth of a 年度更新 run's time, issue #22)."""
    found: set[str] = set()
    stack: list[tuple[Any, str]] = []
    _judge(obj, key, found, stack)
    while stack:
        value, name = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                sub = k if type(k) is str else str(k)
                findings = _key_findings(sub)
                if findings:
                    found.update(findings)
                cls = type(v)
                if cls is int:
                    if not -_ELEVEN_DIGITS < v < _ELEVEN_DIGITS and _holds_my_number(str(v)):
                        found.add(sub or _A_VALUE)
                elif cls is str:
                    if len(v) >= 12 and _holds_my_number(v):
                        found.add(sub or _A_VALUE)
                elif v is not None and cls is not bool and cls is not float:
                    _judge(v, sub, found, stack)
        else:  # a list or tuple
            for v in value:
                _judge(v, name, found, stack)
    return found


_A_VALUE = "(a value holding a My Number)"


def _judge(value: Any, name: str, found: set[str], stack: list[tuple[Any, str]]) -> None:
    """A scalar judged now (into `found`), a container put on the stack."""
    if isinstance(value, dict | list | tuple):
        stack.append((value, name))
    elif isinstance(value, str):
        if _holds_my_number(value):
            found.add(name or _A_VALUE)
    elif isinstance(value, int) and not isinstance(value, bool):
        # Fewer than twelve digits cannot hold one (amounts, counts): no string to build.
        if not -_ELEVEN_DIGITS < value < _ELEVEN_DIGITS and _holds_my_number(str(value)):
            found.add(name or _A_VALUE)


_ELEVEN_DIGITS = 10**11


@lru_cache(maxsize=4096)
def _key_findings(name: str) -> tuple[str, ...]:
    """What a key's name alone makes unfit (events of a kind repeat the same keys: asked once each)."""
    found: list[str] = []
    if SECRET_KEYS.search(name) and not name.endswith(_FACT_SUFFIXES):
        found.append(name)
    if _holds_my_number(name):
        found.append("(a key holding a My Number)")
    return tuple(found)
