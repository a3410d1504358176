"""e-Gov's published OpenAPI v2 document as the contract the sandbox serves and our client sends.

`openapi-v2.json` beside this module is e-Gov's document, copied unchanged (../shared/egov). The
`SpecCheck` ASGI wrapper goes around the sandbox app in tests (tests/services/egov_support.py):

* every response on an e-Gov path (`/shinsei/v2/…`, `/auth/…`) is matched to its spec operation
  and status, and checked: the status must be one the operation lists; a JSON body must validate
  against the response schema (jsonschema, $refs resolved in the whole document) and be sent as
  `application/json`; a status the spec gives no body (404) must come without one;
* every request *our* client sends (it identifies itself with `User-Agent: Roumu-efiling/…`) is
  checked against the operation's parameters and request body schema. Tests that send malformed
  requests on purpose use plain httpx and are not our client.

Violations and counts are module-global (`STATS`); tests/conftest.py fails the test during which a
violation was recorded and prints the totals at the end of the session."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SPEC_PATH = Path(__file__).resolve().parent / "egov" / "openapi-v2.json"
BASE = "urn:egov-openapi-v2"
API_PREFIX = "/shinsei/v2"
AUTH_PREFIX = "/auth"
CLIENT_AGENT = "Roumu-efiling/"
# Paths of the 利用者認証 family live under the auth base URL; the rest under the API base URL.
AUTH_PATHS = ("/auth", "/token", "/token/introspect", "/logout")
# The spec's placeholder for the client's own redirect URI: not an endpoint anyone serves.
PLACEHOLDER = "/(リダイレクト先のURL)"
METHODS = ("get", "post", "put", "delete")


@dataclass
class Stats:
    responses: int = 0
    requests: int = 0
    violations: list[str] = field(default_factory=list)
    operations: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)


STATS = Stats()


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return data


@cache
def _registry() -> Registry:  # type: ignore[type-arg]
    return Registry().with_resource(BASE, Resource.from_contents(spec(), default_specification=DRAFT4))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(*parts: str) -> Draft4Validator:
    return Draft4Validator({"$ref": f"{BASE}#/{_pointer(*parts)}"}, registry=_registry())


def operations() -> list[tuple[str, str]]:
    """Every (METHOD, path) of the spec, the redirect placeholder left out."""
    return [(m.upper(), p) for p, ops in spec()["paths"].items() if p != PLACEHOLDER
            for m in ops if m in METHODS]


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for p in spec()["paths"]:
        if p == PLACEHOLDER:
            continue
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$"
        out.append((re.compile(rx), p))
    # literal paths before templated ones (/apply/lists before /apply/{arrive_id})
    out.sort(key=lambda t: t[1].count("{"))
    return out


def match(method: str, url_path: str) -> tuple[str, dict[str, Any], str] | None:
    """(spec path, operation, path relative to its base URL) for a request to the sandbox, or None
    when it is not an e-Gov path."""
    if url_path.startswith(API_PREFIX + "/"):
        rel = url_path[len(API_PREFIX):]
        if rel in AUTH_PATHS:
            return None
    elif url_path.startswith(AUTH_PREFIX + "/"):
        rel = url_path[len(AUTH_PREFIX):]
        if rel not in AUTH_PATHS:
            return None
    else:
        return None
    for rx, p in _templates():
        if rx.match(rel):
            op = spec()["paths"][p].get(method.lower())
            return (p, op, rel) if op is not None else None
    return None


def _resolve(node: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Follow a `$ref` to components; returns the node and its JSON pointer parts."""
    parts: list[str] = []
    while "$ref" in node:
        parts = node["$ref"].removeprefix("#/").split("/")
        node = spec()
        for part in parts:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, parts


def _dash_allowed(err: Any) -> bool:
    """An erratum of the spec: some fields' descriptions say they are "-" when not applicable
    (error_report_info.result[].arrive_id: エラーが発生して到達されていない場合は”-”) while their
    schema sets a longer minLength; the description is taken as meant."""
    desc = str(err.schema.get("description", "")) if isinstance(err.schema, dict) else ""
    return bool(err.instance == "-" and ("”-”" in desc or '"-"' in desc))


def check_response(method: str, url_path: str, status: int, content_type: str, body: bytes) -> None:
    found = match(method, url_path)
    if found is None:
        return
    path, op, _ = found
    where = f"{method} {path} → {status}"
    with STATS.lock:
        STATS.responses += 1
        STATS.operations.add((method.upper(), path))
    responses = op.get("responses", {})
    if status in EXTRA_STATUS.get((method.upper(), path), ()):
        return
    if str(status) not in responses:
        STATS.violation(f"{where}: status {status} is not among the spec's {sorted(responses)}")
        return
    resp, parts = _resolve(responses[str(status)])
    if not parts:
        parts = ["paths", path, method.lower(), "responses", str(status)]
    content = resp.get("content") or {}
    if not content:
        if body.strip() and status == 404:
            STATS.violation(f"{where}: the spec's {status} carries no body, got {body[:80]!r}")
        return
    if "application/json" in content:
        if content_type.split(";")[0].strip() != "application/json":
            STATS.violation(f"{where}: content-type {content_type!r}, the spec says application/json")
        try:
            doc = json.loads(body)
        except ValueError:
            STATS.violation(f"{where}: body is not JSON: {body[:80]!r}")
            return
        v = _validator(*parts, "content", "application/json", "schema")
        for err in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            if _dash_allowed(err):
                continue
            STATS.violation(f"{where}: {'/'.join(str(p) for p in err.absolute_path) or '(body)'}: {err.message}")


# Statuses the spec does not list that an operation cannot avoid: `GET /auth` lists only 302, but an
# unknown client_id or a bad redirect_uri must not be redirected (RFC 6749 §4.1.2.1), so those
# are answered 400 (other /auth errors are redirected with `error=`).
EXTRA_STATUS: dict[tuple[str, str], set[int]] = {("GET", "/auth"): {400}}

# The spec's request_token lists every field of both grants as required while its descriptions say
# 取得時のみ / 再取得時のみ (and `scope` is documented nowhere else): the fields each grant needs.
TOKEN_REQUIRED = {"authorization_code": ["grant_type", "code", "redirect_uri"],
                  "refresh_token": ["grant_type", "refresh_token"]}


def _param_value(schema: dict[str, Any], raw: str) -> Any:
    if schema.get("type") == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def check_request(method: str, url_path: str, query: bytes, content_type: str, body: bytes) -> None:
    found = match(method, url_path)
    if found is None:
        return
    path, op, rel = found
    where = f"request {method} {path}"
    with STATS.lock:
        STATS.requests += 1
    # query and path parameters
    params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
    rx = "^" + re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"
    m = re.match(rx, rel)
    path_values = m.groupdict() if m else {}
    declared = set()
    for ref in op.get("parameters", []):
        p, _ = _resolve(ref)
        if p.get("in") not in ("query", "path"):
            continue
        declared.add(p["name"])
        raw = params.get(p["name"]) if p["in"] == "query" else path_values.get(p["name"])
        if raw is None:
            if p.get("required"):
                STATS.violation(f"{where}: required {p['in']} parameter {p['name']} missing")
            continue
        for err in Draft4Validator(p.get("schema", {})).iter_errors(_param_value(p.get("schema", {}), raw)):
            STATS.violation(f"{where}: {p['in']} parameter {p['name']}={raw!r}: {err.message}")
    for name in params:
        if name not in declared:
            STATS.violation(f"{where}: query parameter {name} is not in the spec")
    rb = op.get("requestBody")
    if rb is None:
        return
    media = content_type.split(";")[0].strip()
    if media not in rb["content"]:
        STATS.violation(f"{where}: content-type {media!r}, the spec says {sorted(rb['content'])}")
        return
    if media == "application/json":
        try:
            doc: Any = json.loads(body)
        except ValueError:
            STATS.violation(f"{where}: body is not JSON")
            return
    else:
        doc = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    schema_parts = ["paths", path, method.lower(), "requestBody", "content", media, "schema"]
    errors = list(_validator(*schema_parts).iter_errors(doc))
    if path == "/token":
        need = TOKEN_REQUIRED.get(str(doc.get("grant_type")), ["grant_type"])
        errors = [e for e in errors if e.validator != "required"]
        for name in need:
            if name not in doc:
                STATS.violation(f"{where}: {name} is required for grant_type={doc.get('grant_type')}")
    for err in errors:
        STATS.violation(f"{where}: {'/'.join(str(p) for p in err.absolute_path) or '(body)'}: {err.message}")


class SpecCheck:
    """ASGI wrapper checking requests (from our client) and responses (all) against the spec."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if headers.get("user-agent", "").startswith(CLIENT_AGENT):
            check_request(method, path, scope.get("query_string", b""), headers.get("content-type", ""), body)

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        state: dict[str, Any] = {"status": 0, "ctype": "", "body": []}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = int(message["status"])
                for k, v in message.get("headers", []):
                    if k.lower() == b"content-type":
                        state["ctype"] = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                state["body"].append(message.get("body", b""))
                if not message.get("more_body"):
                    check_response(method, path, state["status"], state["ctype"], b"".join(state["body"]))
            await send(message)

        await self.app(scope, replay, capture)
