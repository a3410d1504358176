"""What the security suite shares: its mode, its figures, the committed OpenAPI operations, and a
snapshot of a service database to prove a refused call changed nothing."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, select

from shared.settings import CommonSettings
from shared.topology import SERVICES

ROOT = Path(__file__).resolve().parents[2]
OPENAPI_DIR = ROOT / "contracts" / "openapi"

# `bounded` (make test, CI) or `long` (make test-security MODE=long, nightly).
MODE = os.environ.get("ROUMU_SECURITY_MODE", "bounded")
LONG = MODE == "long"

# Figures printed at the end of the run (conftest.pytest_terminal_summary).
FIGURES: Counter[str] = Counter()
# Findings that do not fail the run (known, reported bugs; tolerated deviations), printed at the end.
NOTICES: list[str] = []

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    spec: dict[str, Any] = field(hash=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def path_params(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p.get("in") == "path"]

    @property
    def body_types(self) -> list[str]:
        return list(self.spec.get("requestBody", {}).get("content", {}))

    @property
    def statuses(self) -> set[str]:
        return set(self.spec.get("responses", {}))


@cache
def openapi(service: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((OPENAPI_DIR / f"{service}.json").read_text(encoding="utf-8"))
    return doc


def services_with_contract() -> list[str]:
    return [s.name for s in SERVICES if (OPENAPI_DIR / f"{s.name}.json").exists()]


def operations(service: str) -> list[Operation]:
    doc = openapi(service)
    return [Operation(service, m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items() if m in METHODS]


def resolve(service: str, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = openapi(service)["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def body_schema(op: Operation, content_type: str = "application/json") -> dict[str, Any] | None:
    content = op.spec.get("requestBody", {}).get("content", {}).get(content_type)
    return resolve(op.service, content["schema"]) if content else None


def properties(service: str, schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Top-level properties of an object schema, through $ref and allOf/anyOf/oneOf."""
    schema = resolve(service, schema)
    out: dict[str, dict[str, Any]] = dict(schema.get("properties", {}))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            out.update(properties(service, sub))
    return out


def is_string(service: str, schema: dict[str, Any]) -> bool:
    schema = resolve(service, schema)
    if schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
        return True
    return any(is_string(service, s) for s in schema.get("anyOf", []) if s.get("type") != "null")


# Tables a refused request may legitimately leave different: migrations' bookkeeping only.
SNAPSHOT_SKIP = {"alembic_version"}


def db_snapshot(settings: CommonSettings, service: str) -> dict[str, tuple[int, str]]:
    """Every table of a service database: (row count, hash of every row in a stable order)."""
    engine = create_engine(settings.database_url(service))
    try:
        meta = MetaData()
        meta.reflect(engine)
        out: dict[str, tuple[int, str]] = {}
        with engine.connect() as conn:
            for name, table in sorted(meta.tables.items()):
                if name in SNAPSHOT_SKIP:
                    continue
                rows = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
                out[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        return out
    finally:
        engine.dispose()


def snapshot_diff(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    return [f"{t}: {before.get(t)} -> {after.get(t)}" for t in sorted(set(before) | set(after))
            if before.get(t) != after.get(t)]


def all_tables_text(settings: CommonSettings, service: str) -> list[tuple[str, str]]:
    """Every cell of every table as text (bytes decoded leniently): (table.column, text)."""
    engine = create_engine(settings.database_url(service))
    try:
        meta = MetaData()
        meta.reflect(engine)
        out: list[tuple[str, str]] = []
        with engine.connect() as conn:
            for name, table in meta.tables.items():
                for row in conn.execute(select(table)).mappings():
                    for col, value in row.items():
                        if value is None:
                            continue
                        if isinstance(value, bytes | bytearray | memoryview):
                            text = bytes(value).decode("utf-8", "replace")
                        elif isinstance(value, dict | list):
                            text = json.dumps(value, ensure_ascii=False)
                        else:
                            text = str(value)
                        out.append((f"{name}.{col}", text))
        return out
    finally:
        engine.dispose()
