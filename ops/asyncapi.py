"""The AsyncAPI 3 document of Roumu's events: contracts/asyncapi/roumu-events.v1.json, generated
by `python -m ops.contracts` from the event JSON Schemas (contracts/events/) and the NATS subjects
(an event's subject is its type), checked for drift like the OpenAPI documents.

Each event type is a channel (address = subject) with one message whose payload is the event's
schema, bundled: the envelope and every event schema sit in components.schemas, their relative
`$ref: envelope.schema.json` rewritten to the component, so the document stands alone offline."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from shared.event_schemas import CONTRACTS_DIR, ENVELOPE_FILE, load_schema, schema_files

ROOT = Path(__file__).resolve().parents[1]
ASYNCAPI_FILE = ROOT / "contracts" / "asyncapi" / "roumu-events.v1.json"
VERSION = "1.0.0"
ENVELOPE = "envelope"


def _component(event_type: str) -> str:
    return event_type.replace(".", "_")


def _bundled(schema: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(schema)
    out.pop("$schema", None)
    out.pop("$id", None)
    text = json.dumps(out, ensure_ascii=False)
    text = text.replace(f'"$ref": "{ENVELOPE_FILE}"', f'"$ref": "#/components/schemas/{ENVELOPE}"')
    bundled: dict[str, Any] = json.loads(text)
    return bundled


def build(events_dir: Path = CONTRACTS_DIR) -> dict[str, Any]:
    schemas: dict[str, Any] = {ENVELOPE: _bundled(load_schema(events_dir / ENVELOPE_FILE))}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, path in schema_files(events_dir).items():
        schema = load_schema(path)
        key = _component(event_type)
        publisher = event_type.split(".")[1]
        schemas[key] = _bundled(schema)
        messages[key] = {
            "name": event_type, "title": event_type, "summary": str(schema.get("description", "")),
            "contentType": "application/json",
            "headers": {"type": "object", "properties": {"Nats-Msg-Id": {
                "type": "string", "description": "the event's id: JetStream drops a second publish of it"}}},
            "payload": {"$ref": f"#/components/schemas/{key}"},
        }
        channels[key] = {"address": event_type, "title": event_type,
                         "messages": {key: {"$ref": f"#/components/messages/{key}"}}}
        operations[f"publish_{key}"] = {
            "action": "send", "title": f"{publisher} publishes {event_type}",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
            "x-roumu-publisher": publisher,
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Roumu events", "version": VERSION,
            "description": "Every event Roumu's services publish on NATS JetStream (stream ROUMU, subjects "
                           "`roumu.>`). The subject equals the event's `type`; the envelope is the same for "
                           "all (docs/events.md). Ids and facts only: never My Number, passwords or TOTP "
                           "secrets. Generated from contracts/events/ by `python -m ops.contracts`.",
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": "127.0.0.1:4222", "protocol": "nats",
                             "description": "NATS with JetStream (ROUMU_NATS_URL); each service connects as "
                                            "its own user and may publish only its own subjects"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
