"""A minimal valid-looking request body from a JSON schema: required fields only, simple values.
Good enough for most operations; the ones it cannot satisfy get an explicit body in the tables."""

from __future__ import annotations

from typing import Any

from tests.security.common import resolve


def minimal(service: str, schema: dict[str, Any], depth: int = 0) -> Any:
    schema = resolve(service, schema)
    if depth > 6:
        return None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        options = [s for s in schema.get(key, []) if resolve(service, s).get("type") != "null"]
        if options:
            return minimal(service, options[0], depth + 1)
    for sub in schema.get("allOf", []):
        return minimal(service, sub, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: minimal(service, props[k], depth + 1) for k in schema.get("required", []) if k in props}
    if kind == "array":
        n = schema.get("minItems", 0)
        return [minimal(service, schema.get("items", {}), depth + 1) for _ in range(n)]
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1))
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return "2025-04-01"
        if fmt == "date-time":
            return "2025-04-01T00:00:00Z"
        if schema.get("examples"):
            return schema["examples"][0]
        return "x" * max(1, int(schema.get("minLength", 1)))
    return None
