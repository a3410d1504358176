"""The public Partner API contract: generated from the services' marked operations, every
reference resolves, every operation names its scopes, and the changelog knows its version."""

from __future__ import annotations

import json
from typing import Any

from ops.contracts import partner_contract_text
from ops.partner_contract import PARTNER_CONTRACT, PUBLIC_DIR, TOKEN_PATH
from services.auth.rules.scopes import SCOPES


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [
            r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_committed_partner_contract_is_generated():
    assert PARTNER_CONTRACT.read_text(encoding="utf-8") == partner_contract_text(), \
        "run `make contracts` (python -m ops.contracts) and commit contracts/public/partner-api.v1.json"


def test_partner_contract_is_whole_and_scoped():
    doc = json.loads(PARTNER_CONTRACT.read_text())
    assert doc["openapi"].startswith("3.1") and doc["info"]["version"]
    for ref in _refs(doc):
        kind, name = ref.removeprefix("#/components/").split("/", 1)
        assert name in doc["components"][kind], ref
    assert doc["components"]["securitySchemes"]["partner"]["flows"]["clientCredentials"]["scopes"] == SCOPES
    ops = {(m.upper(), p): op for p, item in doc["paths"].items() for m, op in item.items()}
    assert ("POST", "/api/v1/koyo-hoken/insured-persons") in ops
    assert ("POST", "/api/v1/koyo-hoken/insured-persons/{person_id}/my-number-intake") in ops
    assert ("GET", "/api/v1/efiling/filings/{filing_id}/documents/{document_id}") in ops
    assert ("POST", "/api/v1/webhooks/endpoints") in ops
    for (method, path), op in ops.items():
        assert path.startswith("/api/v1/"), path
        scopes = op["x-roumu-scopes"]
        assert set(scopes) <= set(SCOPES), (method, path)
        if path != TOKEN_PATH:
            assert scopes and op["security"] == [{"partner": scopes}], (method, path)
            assert {"401", "403"} <= set(op["responses"]), (method, path)
            if "{" in path:
                assert "404" in op["responses"], (method, path)
        assert "429" in op["responses"], (method, path)
        ok = next(r for s, r in op["responses"].items() if s.startswith("2"))
        assert "RateLimit" in ok.get("headers", {}), (method, path)
    hire = ops[("POST", "/api/v1/koyo-hoken/insured-persons")]
    assert any(p["name"] == "Idempotency-Key" for p in hire["parameters"])
    assert "idempotency-key-reused" in hire["responses"]["422"]["content"]["application/problem+json"]["examples"]
    intake = ops[("POST", "/api/v1/koyo-hoken/insured-persons/{person_id}/my-number-intake")]
    assert intake["x-roumu-scopes"] == ["mynumber:write"]
    assert set(doc["webhooks"]) == {"person.registered", "person.updated", "procedure.completed",
                                    "official_document.received",
                                    "correction.requested"}
    assert f"## {doc['info']['version']}" in (PUBLIC_DIR / "CHANGELOG.md").read_text()
