"""The event JSON Schemas of contracts/events/, loaded for validation.

One file per event type, `<type>.schema.json`, each refining `envelope.schema.json` through
`allOf: [{"$ref": "envelope.schema.json"}]`. Relative refs resolve against each schema's `$id`,
and every schema is also registered under its bare file name, so a schema without `$id` works too.

Tests validate every published event with this; a service could use it for a runtime check."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts" / "events"
ENVELOPE_FILE = "envelope.schema.json"
SUFFIX = ".schema.json"

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time (jsonschema checks it only when an optional package is installed)."""
    if not isinstance(value, str):
        return True  # formats apply to strings only
    if not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))  # ValueError: not a real time
    return True


def format_checker() -> FormatChecker:
    """The draft 2020-12 format checks jsonschema has, plus `date-time` always."""
    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    if "date-time" not in checker.checkers:
        checker.checks("date-time", raises=ValueError)(_is_date_time)
    return checker


class UnknownEventType(KeyError):
    """An event type with no `<type>.schema.json` in contracts/events/."""


def schema_files(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, Path]:
    """Event type → its schema file (the envelope is not an event type)."""
    return {
        p.name.removesuffix(SUFFIX): p
        for p in sorted(contracts_dir.glob(f"*{SUFFIX}"))
        if p.name != ENVELOPE_FILE
    }


def load_schema(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"{path.name}: a JSON Schema file must hold an object")
    return doc


def load_registry(contracts_dir: Path = CONTRACTS_DIR) -> Registry[Any]:
    """Every schema of the directory (the envelope included), under its `$id` and its file name."""
    pairs: list[tuple[str, Resource[Any]]] = []
    for path in sorted(contracts_dir.glob(f"*{SUFFIX}")):
        contents = load_schema(path)
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        pairs.append((path.name, resource))
        uri = contents.get("$id")
        if isinstance(uri, str) and uri:
            pairs.append((uri, resource))
    registry: Registry[Any] = Registry().with_resources(pairs)
    return registry.crawl()


class EventSchemas:
    """The schemas of one contracts directory, with a validator per event type."""

    def __init__(self, contracts_dir: Path = CONTRACTS_DIR) -> None:
        self.contracts_dir = contracts_dir
        self.files = schema_files(contracts_dir)
        self.registry = load_registry(contracts_dir)
        self._validators: dict[str, Draft202012Validator] = {}

    @property
    def types(self) -> list[str]:
        return sorted(self.files)

    def validator(self, event_type: str) -> Draft202012Validator:
        if event_type not in self.files:
            raise UnknownEventType(event_type)
        found = self._validators.get(event_type)
        if found is None:
            found = Draft202012Validator(
                load_schema(self.files[event_type]),
                registry=self.registry,
                format_checker=format_checker(),
            )
            self._validators[event_type] = found
        return found

    def errors(self, event: Mapping[str, Any]) -> list[str]:
        """Readable reasons an event does not match the schema of its `type` ([] when it does).

        Raises UnknownEventType for a type without a schema."""
        event_type = event.get("type")
        if not isinstance(event_type, str):
            return ["event has no string `type`"]
        validator = self.validator(event_type)
        out = []
        for err in sorted(validator.iter_errors(dict(event)), key=lambda e: list(map(str, e.absolute_path))):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            out.append(f"{where}: {err.message}")
        return out


@lru_cache
def event_schemas(contracts_dir: Path = CONTRACTS_DIR) -> EventSchemas:
    """The schemas of a directory, loaded once per process."""
    return EventSchemas(contracts_dir)


def validator_for(event_type: str, contracts_dir: Path = CONTRACTS_DIR) -> Draft202012Validator:
    """The validator of one event type; raises UnknownEventType when it has no schema."""
    return event_schemas(contracts_dir).validator(event_type)
