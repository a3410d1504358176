"""contracts/events/: every schema is valid JSON Schema 2020-12 whose $ref to the envelope
resolves, titled by its event type; every event type in services' code has a schema and every
schema has a type in code. The sweep of published events is test_published_events.py."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from shared.event_schemas import (
    CONTRACTS_DIR,
    ENVELOPE_FILE,
    SUFFIX,
    EventSchemas,
    UnknownEventType,
    load_registry,
    load_schema,
    schema_files,
)
from shared.events import Actor, EventEnvelope

ROOT = Path(__file__).resolve().parents[2]
EVENT_TYPE = re.compile(r"roumu\.[a-z_]+\.[a-z_]+\.[a-z_]+")
ALL_FILES = sorted(CONTRACTS_DIR.glob(f"*{SUFFIX}"))
TYPES = schema_files()


def types_in_code() -> dict[str, list[str]]:
    """Event type string constants in services/**/events.py and the gateway → where they are.

    The gateway has no outbox and publishes its refusals itself, so all its modules are scanned."""
    found: dict[str, list[str]] = {}
    paths = sorted((ROOT / "services").glob("**/events.py")) + sorted((ROOT / "gateway").glob("**/*.py"))
    # ops/ too: the backup job publishes its outcome straight to JetStream (no outbox).
    paths += sorted((ROOT / "ops").glob("**/*.py"))
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and EVENT_TYPE.fullmatch(node.value):
                found.setdefault(node.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_there_are_event_schemas() -> None:
    assert (CONTRACTS_DIR / ENVELOPE_FILE).is_file()
    assert TYPES, "no <type>.schema.json in contracts/events/"


@pytest.mark.parametrize("path", ALL_FILES, ids=[p.name for p in ALL_FILES])
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = load_schema(path)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema", path.name
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("event_type", sorted(TYPES))
def test_schema_is_titled_by_its_type_and_refines_the_envelope(event_type: str) -> None:
    path = TYPES[event_type]
    schema = load_schema(path)
    assert schema.get("title") == event_type, f"{path.name}: title must be {event_type!r}"
    assert EVENT_TYPE.fullmatch(event_type), f"{path.name}: not roumu.<service>.<aggregate>.<event>"
    assert str(schema.get("description", "")).strip(), f"{path.name}: say what happened in `description`"
    if "$id" in schema:
        # Relative: the $refs then resolve beside the file, offline, wherever it was copied to.
        assert schema["$id"] == path.name, f"{path.name}: $id must be its file name (relative)"
    props = schema.get("properties") or {}
    assert (props.get("type") or {}).get("const") == event_type, f"{path.name}: properties.type.const"
    refs = [part.get("$ref") for part in schema.get("allOf", []) if isinstance(part, dict)]
    assert ENVELOPE_FILE in refs, f"{path.name}: allOf must $ref {ENVELOPE_FILE}"


@pytest.mark.parametrize("event_type", sorted(TYPES))
def test_envelope_ref_resolves_through_the_registry(event_type: str) -> None:
    registry = load_registry()
    schema = load_schema(TYPES[event_type])
    resolver = registry.resolver(base_uri=str(schema.get("$id", TYPES[event_type].name)))
    try:
        resolved = resolver.lookup(ENVELOPE_FILE).contents
    except Unresolvable as exc:
        pytest.fail(f"{event_type}: {ENVELOPE_FILE} does not resolve: {exc}")
    assert resolved == load_schema(CONTRACTS_DIR / ENVELOPE_FILE)
    # Building a validator and validating an empty object walks every reference in the schema.
    errors = EventSchemas().errors({"type": event_type})
    assert errors, "an empty event must not validate"


def test_every_event_type_in_code_has_a_schema() -> None:
    missing = {t: where for t, where in types_in_code().items() if t not in TYPES}
    assert not missing, (
        "event types used in services/**/events.py without contracts/events/<type>.schema.json: "
        + json.dumps(missing, indent=2)
    )


def test_every_schema_has_an_event_type_in_code() -> None:
    in_code = types_in_code()
    orphans = sorted(t for t in TYPES if t not in in_code)
    assert not orphans, (f"schemas with no type constant in services/**/events.py, gateway/ or ops/ "
                         f"(remove or publish): {orphans}")


# The helper itself, on a directory of its own, so these hold whatever the real schemas say.

SAMPLE_TYPE = "roumu.sample.thing.happened"


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    shutil.copy(CONTRACTS_DIR / ENVELOPE_FILE, tmp_path / ENVELOPE_FILE)
    (tmp_path / f"{SAMPLE_TYPE}{SUFFIX}").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        # No $id: the relative $ref resolves through the file-name registration.
        "title": SAMPLE_TYPE,
        "description": "a sample",
        "allOf": [{"$ref": ENVELOPE_FILE}],
        "properties": {
            "type": {"const": SAMPLE_TYPE},
            "subject": {"type": "object", "required": ["thing_id"]},
            "data": {"type": "object", "additionalProperties": False, "required": ["n"],
                     "properties": {"n": {"type": "integer"}, "on": {"type": "string", "format": "date"}}},
        },
    }), encoding="utf-8")
    return tmp_path


def _event(**data: object) -> dict[str, object]:
    ev = EventEnvelope(type=SAMPLE_TYPE, tenant_id="t-1", actor=Actor(kind="user", id="u-1"),
                       subject={"thing_id": "x-1"}, data=dict(data))
    loaded: dict[str, object] = json.loads(ev.to_json())
    return loaded


def test_helper_accepts_an_envelope_the_code_produces(sample_dir: Path) -> None:
    schemas = EventSchemas(sample_dir)
    assert schemas.types == [SAMPLE_TYPE]
    assert schemas.errors(_event(n=1, on="2026-04-01")) == []


def test_helper_reports_envelope_and_data_errors(sample_dir: Path) -> None:
    schemas = EventSchemas(sample_dir)
    bad = _event(n="one", extra=True, on="2026-02-30")
    bad["occurred_at"] = "yesterday"
    bad["subject"] = {}
    errors = schemas.errors(bad)
    text = "\n".join(errors)
    assert "data/n" in text and "extra" in text and "'2026-02-30' is not a 'date'" in text
    assert "occurred_at: 'yesterday' is not a 'date-time'" in text
    assert "'thing_id' is a required property" in text


def test_helper_refuses_an_unknown_type(sample_dir: Path) -> None:
    with pytest.raises(UnknownEventType):
        EventSchemas(sample_dir).errors({**_event(n=1), "type": "roumu.sample.thing.vanished"})


def test_the_grant_events_name_every_menu_there_is() -> None:
    """permissions_changed lists the menus a grant may name; a menu added in shared/permissions.py
    but not here made every grant of it an event outside its contract (shakai_hoken's, seen by the
    published-events sweep)."""
    from shared.permissions import MENUS

    schema = json.loads((CONTRACTS_DIR / f"roumu.accounts.user.permissions_changed{SUFFIX}").read_text("utf-8"))

    def menu_enums(node: object) -> list[list[str]]:
        if isinstance(node, dict):
            found = [node["propertyNames"]["enum"]] if "menus" == node.get("_key") else []
            return found + [e for k, v in node.items() for e in menu_enums({**v, "_key": k} if isinstance(v, dict)
                                                                          else v)]
        if isinstance(node, list):
            return [e for v in node for e in menu_enums(v)]
        return []

    enums = menu_enums(schema)
    assert enums, "no menus enum found"
    for enum in enums:
        assert sorted(enum) == sorted(MENUS)
