"""The AsyncAPI 3 document of the events (issue #28): generated from contracts/events/ (no drift),
one channel per event type addressed by its subject, bundled so that it resolves offline, and its
payload schemas accept and refuse exactly what the event schemas do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ops import asyncapi
from shared.event_schemas import EventSchemas, schema_files

DOC: dict[str, Any] = json.loads(asyncapi.ASYNCAPI_FILE.read_text(encoding="utf-8"))


def test_the_committed_document_is_what_the_event_schemas_make() -> None:
    assert asyncapi.ASYNCAPI_FILE.read_text(encoding="utf-8") == asyncapi.render(asyncapi.build()), \
        "run python -m ops.contracts"


def test_one_channel_per_event_type_addressed_by_its_subject() -> None:
    assert DOC["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in DOC["channels"].values()}
    assert addresses == set(schema_files())
    for op in DOC["operations"].values():
        assert op["action"] == "send"
        channel = op["channel"]["$ref"].split("/")[-1]
        assert op["x-roumu-publisher"] == DOC["channels"][channel]["address"].split(".")[1]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves_inside_the_document() -> None:
    for ref in _refs(DOC):
        assert ref.startswith("#/"), ref
        node: Any = DOC
        for part in ref[2:].split("/"):
            node = node[part]


def _payload_validator(event_type: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(DOC, default_specification=DRAFT202012))
    key = event_type.replace(".", "_")
    return Draft202012Validator({"$ref": f"urn:asyncapi#/components/schemas/{key}"}, registry=registry)


EVENT = {"id": "6c1f0b1e-4d7e-4a53-9f6a-0d5a2f1c9b11", "type": "roumu.koyo_hoken.insured_person.registered",
         "version": 1, "occurred_at": "2026-04-20T03:12:45+00:00", "tenant_id": "t-1",
         "actor": {"kind": "user", "id": "u-1"}, "trace_id": None,
         "subject": {"insured_person_id": "p-1", "tenant_id": "t-1", "jigyosho_id": "j-1"},
         "data": {"hire_date": "2026-04-01", "weekly_hours": "40", "status": "active"}}


@pytest.mark.parametrize("change", [
    {}, {"data": {"hire_date": "2026-04-01", "weekly_hours": "40", "status": "active", "my_number": "x"}},
    {"subject": {"tenant_id": "t-1"}}, {"version": 2}, {"extra": 1},
])
def test_payloads_accept_and_refuse_what_the_event_schemas_do(change: dict[str, Any]) -> None:
    event = EVENT | change
    expected = not EventSchemas().errors(event)
    assert (not list(_payload_validator(EVENT["type"]).iter_errors(event))) is expected
