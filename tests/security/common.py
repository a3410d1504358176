"""What the security suite shares: its mode, its figures, the committed OpenAPI operations, and a
snapshot of a service database to prove a refused call changed nothing."""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import json
import os
import re
import zipfile
import zlib
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


_B64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_DEPTH = 6


def _expand_bytes(raw: bytes, depth: int) -> list[str]:
    """A blob and what it holds: ZIP members, gzip, then the text (itself expanded)."""
    out: list[str] = []
    if depth > _DEPTH:
        return out
    if raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                for info in zf.infolist():
                    out += [f"[zip member {info.filename}] {t}" for t in _expand_bytes(zf.read(info), depth + 1)]
        except (zipfile.BadZipFile, OSError, ValueError, zlib.error):
            pass
    if raw[:2] == b"\x1f\x8b":
        try:
            out += [f"[gzip] {t}" for t in _expand_bytes(gzip.decompress(raw), depth + 1)]
        except (OSError, EOFError, zlib.error):  # a run that only looks like gzip: not a hit
            pass
    out += _expand_text(raw.decode("utf-8", "replace"), depth)
    return out


def _expand_text(text: str, depth: int) -> list[str]:
    """A text and what it holds: JSON values, base64 (standard or url-safe) runs decoded."""
    out = [text]
    if depth > _DEPTH:
        return out
    stripped = text.strip()
    if stripped[:1] in ("{", "[", '"'):
        try:
            out += [f"[json] {t}" for t in _expand_json(json.loads(stripped), depth + 1)]
        except ValueError:
            pass
    for body in _B64.findall(text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(body + "=" * (-len(body) % 4))
            except (ValueError, binascii.Error):
                continue
            out += [f"[base64] {t}" for t in _expand_bytes(raw, depth + 1)]
    return out


def _expand_json(value: Any, depth: int) -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _expand_text(str(k), depth) + _expand_json(v, depth)]
    if isinstance(value, list):
        return [t for v in value for t in _expand_json(v, depth)]
    return _expand_text(value, depth) if isinstance(value, str) else [json.dumps(value)]


def deep_text(value: Any) -> str:
    """A stored value as text, with everything it holds unpacked: ZIP members, gzip, base64 runs and
    JSON (recursively, a few levels deep), so a secret inside a blob is found like one in a cell."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        parts = _expand_bytes(bytes(value), 0)
    elif isinstance(value, dict | list):
        parts = [json.dumps(value, ensure_ascii=False), *_expand_json(value, 0)]
    else:
        parts = _expand_text(str(value), 0)
    return "\n".join(parts)


def all_tables_text(settings: CommonSettings, service: str) -> list[tuple[str, str]]:
    """Every cell of every table as text, blobs unpacked (deep_text): (table.column, text)."""
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
                        out.append((f"{name}.{col}", deep_text(value)))
        return out
    finally:
        engine.dispose()
