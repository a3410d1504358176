"""Typed webhooks (issue #28): each webhook body the webhooks service builds (`payload`) is valid
against its own schema in the partner contract and against `WebhookEvent` (oneOf by `type`), and
its `data` is the internal event's `data`, so the typed schemas cannot drift from the events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ops.partner_contract import PARTNER_CONTRACT, webhook_schema_name
from services.webhooks.events import EVENT_TYPES, LINKS, PUBLIC_TYPES
from services.webhooks.service import payload
from shared.event_schemas import EventSchemas, load_schema, schema_files
from shared.events import Actor, EventEnvelope

IDS = {"tenant_id": "t-1", "jigyosho_id": "j-1", "insured_person_id": "p-1", "procedure_id": "r-1",
       "filing_id": "f-1"}
DATA: dict[str, dict[str, Any]] = {
    "person.registered": {"hire_date": "2026-04-01", "weekly_hours": "40", "status": "active"},
    "person.updated": {"changed_fields": ["weekly_hours", "my_number"], "status": "active", "version": 3},
    "procedure.completed": {"kind": "shikaku_shutoku", "from_state": "submitted", "state": "completed",
                            "filing_id": "f-1"},
    "official_document.received": {"procedure_code": "4950008680033000", "status": "completed",
                                   "arrive_id": "1234567890123456", "notice_sub_id": 1, "document_id": "d-1",
                                   "signature_valid": True},
    "correction.requested": {"procedure_code": "4950008680033000", "status": "correction_requested",
                             "arrive_id": "1234567890123456", "notice_sub_id": 2, "correct_type": "部分補正",
                             "correction_deadline": "2026-05-01"},
}
INTERNAL = {public: internal for internal, (public, _) in PUBLIC_TYPES.items()}


def _event(public: str) -> EventEnvelope:
    internal = INTERNAL[public]
    required = load_schema(schema_files()[internal])["properties"]["subject"]["required"]
    return EventEnvelope(type=internal, tenant_id="t-1", actor=Actor(kind="system", id="test"),
                         subject={k: IDS[k] for k in required}, data=DATA[public])


def _validator(name: str) -> Draft202012Validator:
    doc = json.loads(PARTNER_CONTRACT.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        "urn:partner", Resource.from_contents(doc, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:partner#/components/schemas/{name}"}, registry=registry)


def test_every_webhook_type_has_sample_data() -> None:
    assert set(DATA) == set(EVENT_TYPES) == set(LINKS) == set(INTERNAL)


@pytest.mark.parametrize("public", sorted(EVENT_TYPES))
def test_the_body_sent_is_valid_against_its_typed_schema(public: str) -> None:
    event = _event(public)
    assert not EventSchemas().errors(json.loads(event.model_dump_json()))  # a real event of that type
    body = json.loads(json.dumps(payload(event, public)))
    assert not list(_validator(webhook_schema_name(public)).iter_errors(body))
    assert not list(_validator("WebhookEvent").iter_errors(body))
    assert set(body["links"]) == set(LINKS[public])


@pytest.mark.parametrize("public", sorted(EVENT_TYPES))
def test_a_body_of_another_type_or_with_unknown_data_is_refused(public: str) -> None:
    body = json.loads(json.dumps(payload(_event(public), public)))
    other = next(p for p in sorted(EVENT_TYPES) if p != public)
    assert list(_validator(webhook_schema_name(other)).iter_errors(body))
    body["data"]["unexpected"] = 1
    assert list(_validator("WebhookEvent").iter_errors(body))


def test_the_webhooks_section_types_each_body() -> None:
    doc = json.loads(PARTNER_CONTRACT.read_text(encoding="utf-8"))
    for public in EVENT_TYPES:
        body = doc["webhooks"][public]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{webhook_schema_name(public)}"}
    event = doc["components"]["schemas"]["WebhookEvent"]
    assert event["discriminator"]["propertyName"] == "type"
    assert set(event["discriminator"]["mapping"]) == set(EVENT_TYPES)
