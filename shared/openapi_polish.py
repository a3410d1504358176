"""What every service's OpenAPI document says beyond what FastAPI derives from the routes, so
that a generator (openapi-typescript, openapi-python-client) turns it into clean typed code:

* short stable operationIds `<service>.<camelCaseFunction>` (the same in the partner document);
* security schemes (Bearer for every route that reads the access token; HTTP Basic on the
  OAuth token endpoint) and `security: []` on the public routes;
* `default` and 503 (with `Retry-After`) responses, `WWW-Authenticate` on 401;
* the response headers the server sends: `ETag`, `Location`, `Idempotent-Replayed`,
  `Content-Disposition`; `If-Match` required where a route answers 428 without it;
* binary bodies (ZIP, PDF, CSV …) typed `string` / `format: binary` / `contentMediaType`;
* inline enums hoisted into named component schemas, one per (field name, values), so a
  request and a response model share one type; a parameter's enum when it names itself
  (`x-roumu-enum`, e.g. the lists' `PersonSort`).

Only the document changes; the routes behave as before."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from shared.problem_types import PROBLEM_TYPES, problem_type_base

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_CONTENT = {"application/problem+json": {"schema": PROBLEM_REF}}
JSON_TYPES = ("application/json", "application/problem+json")
TOKEN_PATH = "/api/v1/auth/oauth/token"  # noqa: S105 - a path

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": "アクセストークン (利用者のログイン、またはパートナーの client credentials)"},
    "clientBasic": {"type": "http", "scheme": "basic",
                    "description": "パートナークライアントの client_id / client_secret (トークン発行のみ)"},
}

HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {"description": 'リソースの版 (例: `"3"`)。更新するときは If-Match に指定します',
             "schema": {"type": "string"}},
    "Location": {"description": "作成したリソースのパス", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true`: 同じ Idempotency-Key の再送に、最初の応答を返した",
                            "schema": {"type": "string", "enum": ["true"]}},
    "Content-Disposition": {"description": "`attachment; filename*=UTF-8''<ファイル名>`",
                            "schema": {"type": "string"}},
    "WWW-Authenticate": {"description": "認証方式 (`Bearer realm=\"roumu\"`、トークン発行では `Basic`)",
                         "schema": {"type": "string"}},
    "Retry-After": {"description": "再試行までの秒数", "schema": {"type": "integer", "minimum": 0}},
}

# Fields whose name says nothing alone: their enum is named after the model too (DeliveryStatus).
_GENERIC_FIELDS = {"status", "state", "kind", "type", "severity", "level", "reason", "source", "role", "result"}
_MODEL_SUFFIXES = ("WithSecret", "Detail", "Create", "Update", "Summary", "Patch", "Page", "List", "Out", "In")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def camel(name: str) -> str:
    head, *rest = [p for p in re.split(r"[_\W]+", name) if p]
    return head[:1].lower() + head[1:] + "".join(p[:1].upper() + p[1:] for p in rest)


def operation_id_function(service: str) -> Callable[[APIRoute], str]:
    """FastAPI's generate_unique_id_function: `koyo_hoken.registerInsuredPerson`."""

    def generate(route: APIRoute) -> str:
        return f"{service}.{camel(route.name)}"

    return generate


def _calls(dependant: Dependant) -> Iterable[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _reads_bearer(route: APIRoute) -> bool:
    from shared import auth_deps

    return any(call in (auth_deps.principal, auth_deps._bearer) for call in _calls(route.dependant))


def _api_routes(routes: Iterable[Any]) -> Iterable[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as wrappers)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif (inner := getattr(r, "original_router", None)) is not None:
            yield from _api_routes(inner.routes)


def _route_index(routes: Iterable[Any]) -> dict[str, APIRoute]:
    """Routes by operationId: what the id function made of their names."""
    return {camel(r.name): r for r in _api_routes(routes)}


def _header_refs(resp: dict[str, Any], *names: str) -> None:
    headers = resp.setdefault("headers", {})
    for n in names:
        headers.setdefault(n, {"$ref": f"#/components/headers/{n}"})


def _binary(content: dict[str, Any]) -> bool:
    """Non-JSON bodies become `string`/`binary` with their media type; True when there is one."""
    found = False
    for media, entry in content.items():
        if media in JSON_TYPES or media.endswith("+json"):
            continue
        found = True
        schema = entry.get("schema") or {}
        if not schema or schema.get("type") == "string":
            entry["schema"] = {"type": "string", "format": "binary", "contentMediaType": media,
                               **({"description": schema["description"]} if "description" in schema else {})}
    return found


def _param(op: dict[str, Any], name: str) -> dict[str, Any] | None:
    for p in op.get("parameters", []):
        if p.get("in") == "header" and str(p.get("name", "")).lower() == name.lower():
            return p  # type: ignore[no-any-return]
    return None


def _polish_operation(path: str, method: str, op: dict[str, Any], route: APIRoute | None,
                      path_has_if_match: bool) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    if path == TOKEN_PATH and method == "post":
        op["security"] = [{"clientBasic": []}, {}]  # HTTP Basic, or client_id/client_secret in the form
    elif route is not None:
        op["security"] = [{"bearer": []}] if _reads_bearer(route) else []
    if_match = _param(op, "If-Match")
    optional = op.pop("x-roumu-if-match-optional", False)
    if op.pop("x-roumu-validation-status", 422) != 422:  # the route answers bad input otherwise (OAuth: 400)
        responses.pop("422", None)
    if if_match is not None and "428" in responses and not optional:
        if_match["required"] = True
        if_match["schema"] = {"type": "string"}
    idem = _param(op, "Idempotency-Key")
    for status, resp in responses.items():
        if not isinstance(resp, dict) or "$ref" in resp:
            continue
        if status.startswith("2"):
            content = resp.get("content") or {}
            if _binary(content):
                _header_refs(resp, "Content-Disposition")
            if idem is not None:
                _header_refs(resp, "Idempotent-Replayed")
            if status == "201":
                _header_refs(resp, "Location")
            if (status == "201" or path_has_if_match) and any(m in JSON_TYPES for m in content):
                _header_refs(resp, "ETag")
        elif status == "401":
            _header_refs(resp, "WWW-Authenticate")
        elif status in ("429", "503"):
            _header_refs(resp, "Retry-After")
    if "503" not in responses:
        responses["503"] = {"description": "一時的に利用できません (Retry-After の秒数の後に再試行してください)",
                            "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
                            "content": PROBLEM_CONTENT}
    responses.setdefault("default", {"description": "エラー (problem+json)", "content": PROBLEM_CONTENT})


def _model_stem(model: str) -> str:
    for suffix in _MODEL_SUFFIXES:
        if model.endswith(suffix) and len(model) > len(suffix):
            return model[: -len(suffix)]
    return model


def _pascal(name: str) -> str:
    c = camel(name)
    return c[:1].upper() + c[1:]


def _enum_node(node: Any) -> dict[str, Any] | None:
    if isinstance(node, dict) and isinstance(node.get("enum"), list) and "$ref" not in node:
        return node
    return None


def hoist_enums(schemas: dict[str, Any]) -> None:
    """Replace each property's inline enum (direct, in anyOf, or of an array's items) with a $ref
    to a component named after the field (`EmploymentType`), or after model and field for
    generic names (`DeliveryStatus`); the same field with the same values shares one component."""
    existing = {n: tuple(sorted(map(str, s["enum"]))) for n, s in schemas.items() if _enum_node(s)}
    by_key: dict[tuple[str, tuple[str, ...]], str] = {(n, v): n for n, v in existing.items()}
    added: dict[str, Any] = {}

    def ref_for(model: str, field: str, node: dict[str, Any]) -> dict[str, Any]:
        values = tuple(sorted(map(str, node["enum"])))
        base = _pascal(field)
        if field in _GENERIC_FIELDS:
            base = _model_stem(model) + base
        base = str(node.get("x-roumu-enum") or base)  # named by the model (shared.schema_types.one_of)
        target = by_key.get((base, values))
        if target is None:  # the same values under another field name: the same type (Kind)
            same = [n for n, v in existing.items() if v == values] + [
                n for n, s in added.items() if tuple(sorted(map(str, s["enum"]))) == values]
            target = same[0] if len(same) == 1 else None
        if target is None:
            target, n = base, 2
            while target in existing or target in added:
                target, n = f"{base}{n}", n + 1
            by_key[(base, values)] = target
            dropped = ("title", "description", "examples", "default", "x-roumu-enum")
            added[target] = {k: v for k, v in node.items() if k not in dropped} | {"title": target}
        return {"$ref": f"#/components/schemas/{target}"}

    for model in sorted(schemas):
        props = (schemas[model] or {}).get("properties") or {}
        for field in sorted(props):
            prop = props[field]
            if not isinstance(prop, dict):
                continue
            if _hoistable(prop):
                keep = {k: prop[k] for k in ("title", "description", "default", "examples") if k in prop}
                props[field] = ref_for(model, field, prop) | keep
                continue
            for i, alt in enumerate(prop.get("anyOf") or []):
                if _hoistable(alt):
                    prop["anyOf"][i] = ref_for(model, field, alt)
                elif isinstance(alt, dict) and _hoistable(alt.get("items")):
                    alt["items"] = ref_for(model, field, alt["items"])
            if _hoistable(prop.get("items")):
                prop["items"] = ref_for(model, field, prop["items"])
    schemas.update(added)


def hoist_parameter_enums(doc: dict[str, Any]) -> None:
    """A parameter's enum named with `x-roumu-enum` (shared.paging.sort_param) becomes that
    component (`PersonSort`), as a property's does, instead of an anonymous inline one."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for item in (doc.get("paths") or {}).values():
        for op in item.values():
            for param in (op.get("parameters") or []) if isinstance(op, dict) else []:
                schema = param.get("schema") or {}
                name = schema.get("x-roumu-enum") if _enum_node(schema) else None
                if not name:
                    continue
                kept = ("title", "description", "examples", "default", "x-roumu-enum")
                schemas[name] = {k: v for k, v in schema.items() if k not in kept} | {"title": name}
                param["schema"] = {"$ref": f"#/components/schemas/{name}",
                                   **({"default": schema["default"]} if "default" in schema else {})}


def _hoistable(node: Any) -> bool:
    return _enum_node(node) is not None and (len(node["enum"]) > 1 or "x-roumu-enum" in node)


def problem_schema() -> dict[str, Any]:
    base = problem_type_base()
    return {
        "type": "object",
        "title": "Problem",
        "description": "RFC 9457 problem details. `type` は " + base + "<種類>; 種類の一覧は x-roumu-problem-types "
                       "(docs/problems.md)",
        "required": ["type", "title", "status"],
        "additionalProperties": True,
        "properties": {
            "type": {"type": "string", "format": "uri", "examples": [base + "not-found"]},
            "title": {"type": "string", "description": "人が読む要約 (日本語)"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "request_id": {"type": "string", "description": "X-Request-Id と同じ"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemFieldError"}},
            "menu": {"type": "string", "description": "403: 権限が足りないメニュー"},
            "level": {"type": "string", "enum": ["read", "write"], "description": "403: 必要な権限の段階"},
            "scope": {"type": "string", "description": "403: 足りないパートナースコープ"},
            "error": {"type": "string", "description": "OAuth2 (RFC 6749) のエラーコード (トークン発行)"},
            "checks": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "503 (readyz): 依存先ごとの状態"},
        },
        "x-roumu-problem-types": {slug: {"status": status, "title": title}
                                  for slug, (status, title) in sorted(PROBLEM_TYPES.items())},
    }


FIELD_ERROR: dict[str, Any] = {
    "type": "object", "title": "ProblemFieldError", "required": ["field", "message"],
    "properties": {"field": {"type": "string", "description": "例: body.hire_date"},
                   "message": {"type": "string"}, "code": {"type": ["string", "null"]}},
}


def _rename_form_bodies(doc: dict[str, Any]) -> None:
    """FastAPI names a form body after the operation id (`postOauthToken` from
    `Body_auth.postOauthToken`): `PostOauthTokenForm` instead, a type name like the others."""
    schemas = doc["components"]["schemas"]
    names: dict[str, str] = {}
    for item in (doc.get("paths") or {}).values():
        for op in item.values():
            content = ((op.get("requestBody") or {}).get("content") or {}) if isinstance(op, dict) else {}
            for media, entry in content.items():
                ref = str((entry.get("schema") or {}).get("$ref", ""))
                name = ref.rsplit("/", 1)[-1]
                if "form" in media and name in schemas and (name[:1].islower() or name.startswith("Body_")):
                    names[name] = _pascal(name.removeprefix("Body_").rsplit(".", 1)[-1]) + "Form"
    if not names:
        return
    for old, new in names.items():
        schemas[new] = schemas.pop(old) | {"title": new}
    text = json.dumps(doc)
    for old, new in names.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    doc.clear()
    doc.update(json.loads(text))


def polish(doc: dict[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    """The document `doc` (FastAPI's) with everything above added; changed in place."""
    index = _route_index(routes)
    for path, item in (doc.get("paths") or {}).items():
        has_if_match = any(isinstance(op, dict) and _param(op, "If-Match") for op in item.values())
        for method in _METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                route = index.get(str(op.get("operationId", "")).rsplit(".", 1)[-1])
                _polish_operation(path, method, op, route, has_if_match)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = problem_schema()
    schemas["ProblemFieldError"] = FIELD_ERROR
    hoist_enums(schemas)
    hoist_parameter_enums(doc)
    _rename_form_bodies(doc)
    components = doc["components"]
    components["schemas"] = dict(sorted(components["schemas"].items()))
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    text = json.dumps(doc["paths"])
    used = {n: h for n, h in HEADERS.items() if f'"#/components/headers/{n}"' in text}
    if used:
        components.setdefault("headers", {}).update(used)
    doc.setdefault("servers", [{"url": "/", "description": "the gateway (or the service itself)"}])
    return doc
