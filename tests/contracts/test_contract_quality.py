"""What makes the contracts turn into clean generated clients (issue #28): short unique
operationIds shared by service and partner documents, security on every operation, default and
503 answers, declared headers, binary bodies, named enums, and every problem type listed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from ops.contracts import OPENAPI_DIR
from ops.partner_contract import PARTNER_CONTRACT
from shared.errors import problem_body
from shared.openapi_polish import camel, hoist_enums
from shared.problem_types import DEFAULT_BASE, PROBLEM_TYPES

ROOT = Path(__file__).resolve().parents[2]
DOCS = {p.stem: p for p in sorted(OPENAPI_DIR.glob("*.json"))} | {"partner": PARTNER_CONTRACT}
METHODS = ("get", "put", "post", "delete", "patch")
OPERATION_ID = re.compile(r"^[a-z_]+\.[a-z][A-Za-z0-9]*$")


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DOCS[name].read_text(encoding="utf-8"))
    return doc


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, m, item[m]) for path, item in doc["paths"].items() for m in METHODS if m in item]


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_document_is_valid_openapi(name: str) -> None:
    validate(load(name))


@pytest.mark.parametrize("name", sorted(DOCS))
def test_operation_ids_are_short_unique_and_service_qualified(name: str) -> None:
    ids = [op["operationId"] for _, _, op in operations(load(name))]
    assert len(ids) == len(set(ids))
    bad = [i for i in ids if not OPERATION_ID.match(i) or len(i) > 48]
    assert not bad


def test_the_partner_document_keeps_the_services_operation_ids() -> None:
    partner = {(p, m): op["operationId"] for p, m, op in operations(load("partner"))}
    services = {(p, m): op["operationId"] for n in DOCS if n != "partner" for p, m, op in operations(load(n))}
    assert partner
    assert {k: services[k] for k in partner} == partner


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_operation_declares_security_default_and_503(name: str) -> None:
    doc = load(name)
    assert set(doc["components"]["securitySchemes"]) >= {"clientBasic"}
    for path, method, op in operations(doc):
        assert "security" in op, (path, method)
        assert {"default", "503"} <= set(op["responses"]), (path, method)
        assert "Retry-After" in op["responses"]["503"]["headers"]


def test_public_and_protected_routes_say_which_they_are() -> None:
    auth = load("auth")["paths"]
    assert auth["/api/v1/auth/login"]["post"]["security"] == []
    assert auth["/api/v1/auth/me"]["get"]["security"] == [{"bearer": []}]
    assert auth["/api/v1/auth/oauth/token"]["post"]["security"] == [{"clientBasic": []}, {}]
    partner = load("partner")["paths"]
    assert partner["/api/v1/auth/oauth/token"]["post"]["security"] == [{"clientBasic": []}, {}]


@pytest.mark.parametrize("name", sorted(DOCS))
def test_binary_bodies_are_typed_and_name_their_file(name: str) -> None:
    for path, method, op in operations(load(name)):
        for status, resp in op["responses"].items():
            for media, entry in (resp.get("content") or {}).items():
                if status.startswith("2") and "json" not in media:
                    assert entry["schema"]["format"] == "binary", (path, method, media)
                    assert entry["schema"]["contentMediaType"] == media
                    assert "Content-Disposition" in resp["headers"]


@pytest.mark.parametrize("name", sorted(DOCS))
def test_headers_the_server_sends_are_declared(name: str) -> None:
    for path, method, op in operations(load(name)):
        params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "header"}
        responses = op["responses"]
        if "If-Match" in params and "428" in responses and path not in (
                "/api/v1/jimukumiai/association", "/api/v1/jimukumiai/members/{member_id}/wages/{fiscal_year}"):
            assert params["If-Match"]["required"] is True, (path, method)
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"], (path, method)
        for status, resp in responses.items():
            if status == "201" and "application/json" in resp.get("content", {}):
                assert {"Location", "ETag"} <= set(resp["headers"]), (path, method)
            if status.startswith("2") and "Idempotency-Key" in params:
                assert "Idempotent-Replayed" in resp["headers"], (path, method)


def test_partner_models_share_named_enums_and_type_dates() -> None:
    schemas = load("partner")["components"]["schemas"]
    out, create = schemas["InsuredPersonOut"]["properties"], schemas["InsuredPersonCreate"]["properties"]
    assert out["gender"] == create["gender"] == {"anyOf": [{"$ref": "#/components/schemas/Gender"}, {"type": "null"}],
                                                 "title": "Gender"}
    assert out["weekly_hours"]["type"] == create["weekly_hours"]["type"] == "string"
    assert schemas["ProcedureOut"]["properties"]["state"]["$ref"] == "#/components/schemas/ProcedureState"
    assert schemas["FilingOut"]["properties"]["status"]["$ref"] == "#/components/schemas/FilingStatus"
    assert {"format": "date", "type": "string"} in schemas["FilingOut"]["properties"]["correction_deadline"]["anyOf"]
    inline = [(m, f) for m, s in schemas.items() for f, p in (s.get("properties") or {}).items()
              if isinstance(p, dict) and len(p.get("enum", [])) > 1]
    assert not inline


def test_hoisting_names_generic_fields_after_their_model_and_shares_equal_ones() -> None:
    schemas: dict[str, Any] = {
        "DeliveryOut": {"properties": {"status": {"enum": ["a", "b"], "type": "string", "title": "Status"}}},
        "DeliveryDetail": {"properties": {"status": {"enum": ["b", "a"], "type": "string"}}},
        "EndpointOut": {"properties": {"status": {"anyOf": [{"enum": ["x", "y"]}, {"type": "null"}]}}},
        "PersonIn": {"properties": {"gender": {"enum": ["m", "f"]}, "tags": {"items": {"enum": ["p", "q"]}}}},
    }
    hoist_enums(schemas)
    assert schemas["DeliveryOut"]["properties"]["status"] == {"$ref": "#/components/schemas/DeliveryStatus",
                                                              "title": "Status"}
    assert schemas["DeliveryDetail"]["properties"]["status"] == {"$ref": "#/components/schemas/DeliveryStatus"}
    assert schemas["EndpointOut"]["properties"]["status"]["anyOf"][0] == {"$ref": "#/components/schemas/EndpointStatus"}
    assert schemas["PersonIn"]["properties"]["gender"] == {"$ref": "#/components/schemas/Gender"}
    assert schemas["PersonIn"]["properties"]["tags"]["items"] == {"$ref": "#/components/schemas/Tags"}
    assert schemas["DeliveryStatus"]["enum"] == ["a", "b"] or schemas["DeliveryStatus"]["enum"] == ["b", "a"]


def test_camel() -> None:
    assert camel("register_insured_person") == "registerInsuredPerson"
    assert camel("saml_get") == "samlGet"


_RAISED = re.compile(r'ProblemError\(\s*(\d{3}),\s*"([a-z0-9-]+)"|problem_response\(\s*(\d{3}),\s*"([a-z0-9-]+)"')


def test_every_problem_type_the_code_raises_is_listed() -> None:
    raised: set[str] = set()
    for pkg in ("shared", "services", "gateway"):
        for path in (ROOT / pkg).rglob("*.py"):
            for m in _RAISED.finditer(path.read_text(encoding="utf-8")):
                raised.add(m.group(2) or m.group(4))
    from shared.errors import _STATUS_TITLES

    raised |= {slug for slug, _ in _STATUS_TITLES.values()}
    assert raised - set(PROBLEM_TYPES) == set()
    problem = load("partner")["components"]["schemas"]["Problem"]
    assert set(problem["x-roumu-problem-types"]) == set(PROBLEM_TYPES)
    assert {"menu", "level", "scope", "errors", "request_id"} <= set(problem["properties"])


def test_the_problem_type_base_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problem_body(404, "not-found", "x")["type"] == DEFAULT_BASE + "not-found"
    monkeypatch.setenv("ROUMU_PROBLEM_TYPE_BASE", "https://docs.partner.example/roumu/problems.html#")
    assert problem_body(404, "not-found", "x")["type"] == "https://docs.partner.example/roumu/problems.html#not-found"
    monkeypatch.setenv("ROUMU_PROBLEM_TYPE_BASE", "https://errors.example")
    assert problem_body(403, "forbidden", "x")["type"] == "https://errors.example/forbidden"


def test_the_token_endpoint_documents_the_gateways_limits_and_its_grant_type() -> None:
    from gateway.settings import GatewaySettings

    op = load("partner")["paths"]["/api/v1/auth/oauth/token"]["post"]
    default = GatewaySettings.model_fields["rate_limit_token"].default
    assert op["x-roumu-rate-limits"]["per_client_id"] == default.split(";")
    assert "422" not in op["responses"] and "400" in op["responses"]
    form = load("partner")["components"]["schemas"]["PostOauthTokenForm"]["properties"]
    assert form["grant_type"]["$ref"] == "#/components/schemas/GrantType"
