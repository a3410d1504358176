"""Helpers the service skeleton tests share: read a service's outbox, check events against contracts."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from sqlalchemy import create_engine, text

from shared.settings import CommonSettings

EVENTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "events"


def outbox_payloads(settings: CommonSettings, service: str, aggregate_id: str) -> list[dict[str, Any]]:
    """The events a service recorded about one aggregate, oldest first."""
    engine = create_engine(settings.database_url(service))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT payload FROM outbox WHERE aggregate_id = :a ORDER BY seq"),
                                {"a": aggregate_id}).scalars().all()
    finally:
        engine.dispose()
    return [r if isinstance(r, dict) else json.loads(r) for r in rows]


@cache
def _registry() -> Registry:
    resources = []
    for path in EVENTS_DIR.glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(schema)
        resources += [(schema["$id"], resource), (path.name, resource)]
    return Registry().with_resources(resources)


def assert_matches_contract(event: dict[str, Any]) -> None:
    """The event validates against contracts/events/<type>.schema.json (and so the envelope)."""
    path = EVENTS_DIR / f"{event['type']}.schema.json"
    assert path.exists(), f"no contract for {event['type']}"
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator(schema, registry=_registry(), format_checker=FormatChecker()).validate(event)
