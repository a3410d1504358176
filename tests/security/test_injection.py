"""Injection and hostile input in every string field of every write operation (SERVICE-SPEC
"Protection": SQL injection checked; ASVS V5/V13): SQL injection, path traversal, header
injection, Japanese edge cases (surrogate pairs, 半角カナ, combining marks, characters outside
JIS X 0208), NUL and bidi controls, oversized values; and per operation an oversized body, a deeply
nested body and invalid UTF-8. Every answer is a clear 4xx or a 2xx; never a 5xx. A 4xx leaves every
table's row count as it was (nothing half-written); a 2xx that echoes the field echoes it verbatim
(or as its NFKC form, the documented normalisation of names and kana)."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, create_engine, func, select

from tests.security.bodies import minimal
from tests.security.common import FIGURES, LONG, NOTICES, Operation, body_schema, is_string, operations, properties
from tests.security.conftest import TENANT_SERVICES
from tests.security.isolation_table import BODIES, PATH_PARAMS, REQUEST_HEADERS
from tests.security.test_isolation import fill, required_headers
from tests.security.world import World

PAYLOADS: list[str] = [
    "' OR '1'='1", "'; DROP TABLE users; --", "1) UNION SELECT NULL, version()--", '" OR ""="',
    "%' AND 1=(SELECT COUNT(*) FROM pg_tables) --",
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "a\r\nX-Injected: 1", "a\nSet-Cookie: roumu=1",
    "𠮷野家の𩸽", "ｱｲｳｴｵﾊﾟﾋﾞ", "か\u3099き\u3099く\u3099", "髙橋﨑", "①②Ⅲ㈱㍻", "\u202etxt.exe", "a\x00b",
    "🇯🇵👨‍👩‍👧", "<script>alert(1)</script>", "${jndi:ldap://x}", "{{7*7}}",
]
HUGE = "長" * 200_000  # 600 kB of UTF-8 in one field
SKIP_METHODS = {"get", "delete"}
# A refusal that is itself recorded (ASVS 7.2.1: every authentication decision is logged).
RECORDED_REFUSALS: dict[str, set[str]] = {
    f"POST /api/v1/auth/{p}": {"login_events", "lockouts", "outbox"}
    for p in ("login", "login/totp", "login/password", "login/totp-enrolment", "login/totp-enrolment/confirm",
              "token/refresh", "oauth/token", "me/password")  # a wrong current password counts like a login's
} | {
    # an operator's failed sign-in: its event, and the failure count on the operator's row
    "POST /api/v1/auth/operators/login": {"login_events", "outbox", "operators"},
}
# Fields a service deliberately rewrites: (service, field) -> why.
SANITISED: dict[tuple[str, str], str] = {
    ("files", "original_name"): "file names are reduced to a safe base name (ASVS 12.3.1)",
}


_ENGINES: dict[str, tuple[Engine, MetaData]] = {}


@pytest.fixture(scope="module", autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    for engine, _ in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def count_rows(w: World, service: str) -> dict[str, int]:
    if service not in _ENGINES:
        engine = create_engine(w.settings.database_url(service))
        meta = MetaData()
        meta.reflect(engine)
        _ENGINES[service] = (engine, meta)
    engine, meta = _ENGINES[service]
    with engine.connect() as conn:
        return {n: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for n, t in meta.tables.items() if n != "alembic_version"}


def write_operations(service: str) -> list[Operation]:
    return [op for op in operations(service) if op.method not in SKIP_METHODS
            and "application/json" in op.body_types
            and all(PATH_PARAMS.get(p, ("", ""))[0] in ("resource", "value") for p in op.path_params)]


def base_request(op: Operation, w: World) -> tuple[str, dict[str, Any], dict[str, str]]:
    path = op.path
    for name in op.path_params:
        kind, value = PATH_PARAMS[name]
        path = path.replace("{" + name + "}", value if kind == "value" else w.ids.get(name, str(uuid.uuid4())))
    body = fill(BODIES[op.key], w.ids) if op.key in BODIES else minimal(op.service, body_schema(op) or {})
    headers = {"If-Match": '"1"', **{h: REQUEST_HEADERS[h] for h in required_headers(op) if h in REQUEST_HEADERS}}
    return path, body if isinstance(body, dict) else {}, headers


def payloads_for(index: int) -> list[str]:
    if LONG:
        return [*PAYLOADS, HUGE]
    # Bounded: six payloads per field, rotated so that every payload is thrown at many fields.
    return [PAYLOADS[(index + k) % len(PAYLOADS)] for k in range(0, len(PAYLOADS), len(PAYLOADS) // 6 + 1)] + (
        [HUGE] if index % 5 == 0 else [])


@pytest.mark.parametrize("service", TENANT_SERVICES)
def test_hostile_strings_in_every_write(world: World, service: str) -> None:
    w = world
    failures: list[str] = []
    index = 0
    for op in write_operations(service):
        path, body, headers = base_request(op, w)
        schema = body_schema(op) or {}
        fields = [k for k, v in properties(service, schema).items() if is_string(service, v)]
        for field in fields:
            index += 1
            for payload in payloads_for(index):
                hostile = {**body, field: payload}
                before = count_rows(w, service)
                r = w.call(service, op.method, path, "a_admin", json=hostile, headers=headers)
                FIGURES["injection: hostile values sent"] += 1
                where = f"{op.key} field {field!r} = {payload[:40]!r}"
                if r.status_code >= 500:
                    failures.append(f"{where} -> {r.status_code} {r.text[:300]}")
                elif r.status_code >= 400:
                    after = count_rows(w, service)
                    allowed = RECORDED_REFUSALS.get(op.key, set())
                    if {k: v for k, v in after.items() if k not in allowed} != {
                            k: v for k, v in before.items() if k not in allowed}:
                        changed = {k: (before.get(k), v) for k, v in after.items() if v != before.get(k)}
                        failures.append(f"{where} -> {r.status_code} but rows changed: {changed}")
                    if not r.headers.get("content-type", "").startswith("application/problem+json"):
                        failures.append(f"{where} -> {r.status_code} is not problem+json")
                    if len(payload) > 12 and payload in r.text:
                        failures.append(f"{where} -> the error echoes the submitted value")
                else:
                    FIGURES["injection: hostile values accepted and checked verbatim"] += 1
                    echoed = _echo(r, field)
                    if (echoed is not None and echoed not in (payload, unicodedata.normalize("NFKC", payload))
                            and (service, field) not in SANITISED):
                        failures.append(f"{where} -> {r.status_code} stored as {echoed[:60]!r}")
                if "x-injected" in r.headers or "roumu=1" in r.headers.get("set-cookie", ""):
                    failures.append(f"{where} -> header injected into the response")
    assert not failures, f"{len(failures)} hostile-input failures in {service}:\n" + "\n".join(failures[:80])


def _echo(r: Any, field: str) -> str | None:
    try:
        data = r.json()
    except ValueError:
        return None
    value = data.get(field) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("service", TENANT_SERVICES)
def test_malformed_bodies(world: World, service: str) -> None:
    """Per write operation: invalid UTF-8, deep nesting, an oversized body, a wrong media type."""
    w = world
    failures: list[str] = []
    bodies = {
        "invalid UTF-8": b'{"name": "\xff\xfe\xc3\x28", "x": "\xed\xa0\x80"}',
        "lone surrogate escape": b'{"name": "\\ud800", "display_name": "\\udfff"}',
        "nested 100000 deep": nested(100_000),
        "oversized 8 MB": b'{"name": "' + b"a" * (8 << 20) + b'"}',
        "not JSON": b"\x00\x01\x02 definitely not json",
    }
    if not LONG:
        bodies.pop("oversized 8 MB") if service not in ("koyo_hoken", "accounts") else None
    for op in write_operations(service):
        path, _, headers = base_request(op, w)
        for name, raw in bodies.items():
            before = count_rows(w, service)
            r = w.call(service, op.method, path, "a_admin", content=raw,
                       headers={**headers, "Content-Type": "application/json"})
            FIGURES["injection: malformed bodies sent"] += 1
            # An escaped lone surrogate is valid JSON: a body whose fields are all optional may pass.
            if r.status_code >= 500 or (r.status_code < 400 and name != "lone surrogate escape"):
                failures.append(f"{op.key} with {name} -> {r.status_code} {r.text[:300]}")
            elif count_rows(w, service) != before:
                failures.append(f"{op.key} with {name} -> {r.status_code} but rows changed")
        r = w.call(service, op.method, path, "a_admin", content=b"<x/>",
                   headers={**headers, "Content-Type": "text/xml"})
        if r.status_code >= 500 or r.status_code < 400:
            failures.append(f"{op.key} with text/xml -> {r.status_code} {r.text[:200]}")
    assert not failures, f"{len(failures)} malformed-body failures in {service}:\n" + "\n".join(failures[:80])


def test_hostile_path_segments(world: World) -> None:
    """Ids in paths: SQL and traversal in the segment itself answer 404/422 (never 5xx)."""
    w = world
    failures = []
    segments = ["' OR '1'='1", "..%2f..%2fetc%2fpasswd", "%00", "1;DROP TABLE x", "𠮷", "ｱ" * 300]
    for service in TENANT_SERVICES:
        for op in operations(service):
            if op.method != "get" or not op.path_params:
                continue
            for seg in segments:
                path = op.path
                for name in op.path_params:
                    path = path.replace("{" + name + "}", seg)
                r = w.call(service, "get", path, "a_admin")
                FIGURES["injection: hostile path segments sent"] += 1
                if r.status_code >= 500 or r.status_code < 400:
                    failures.append(f"GET {path} -> {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


def test_tampered_download_link_is_refused(world: World) -> None:
    """The signed download link (a capability) refuses any change to its claims or signature."""
    w = world
    token = w.ids.get("token")
    if "files" not in w.clients or not token:
        pytest.skip("no files service or no link in this world")
    claims, _, sig = token.partition(".")
    for bad in (claims + "." + sig[:-2] + ("AA" if not sig.endswith("AA") else "BB"), claims[:-2] + "xx." + sig,
                claims + ".", "../" + token):
        r = w.call("files", "get", f"/api/v1/files/downloads/{bad}")
        FIGURES["injection: tampered download links sent"] += 1
        assert 400 <= r.status_code < 500, (bad, r.status_code, r.text[:200])
    NOTICES.append("files: a download link is a bearer capability for its 300 s life (by design, docs/files.md)")
