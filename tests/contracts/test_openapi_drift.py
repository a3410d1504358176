"""The committed contracts/openapi/<name>.json is what the running app serves, for every app.

The fix for any failure here: `make contracts` (python -m ops.contracts), review the diff, commit."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ops import contracts

APPS = contracts.app_names()


@pytest.mark.parametrize("name", APPS)
def test_openapi_matches_committed_contract(name: str) -> None:
    problem = contracts.openapi_problem(name)
    if problem:
        pytest.fail(problem, pytrace=False)


def test_every_app_is_covered() -> None:
    assert "accounts" in APPS, "the reference service must be found by ops.contracts.app_names()"


def test_no_contract_without_an_app() -> None:
    stale = contracts.stale_contracts()
    assert not stale, f"committed OpenAPI files with no app: {[p.name for p in stale]}; delete them"


def test_events_doc_table_is_generated_from_the_schemas() -> None:
    problem = contracts.events_doc_problem()
    if problem:
        pytest.fail(problem, pytrace=False)


def test_diff_summary_names_what_changed() -> None:
    committed: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "paths": {"/a": {"get": {"operationId": "a"}}, "/b": {"post": {"operationId": "b"}}},
        "components": {"schemas": {"A": {"type": "object"}}},
    }
    running = copy.deepcopy(committed)
    del running["paths"]["/b"]
    running["paths"]["/a"]["get"]["summary"] = "new"
    running["paths"]["/c"] = {"put": {"operationId": "c"}}
    running["components"]["schemas"]["A"]["required"] = ["id"]
    lines = contracts.openapi_diff(committed, running)
    assert "operation added: PUT /c" in lines
    assert "operation removed: POST /b" in lines
    assert "operation changed: GET /a" in lines
    assert "schema changed: A" in lines
    assert any(line.startswith("+") for line in lines)
    assert contracts.openapi_diff(committed, copy.deepcopy(committed)) == []


def test_rendering_is_stable() -> None:
    doc = {"b": [3, {"y": 1, "x": "日本"}], "a": None}
    text = contracts.render_json(doc)
    assert text == contracts.render_json({"a": None, "b": [3, {"x": "日本", "y": 1}]})
    assert text.endswith("}\n") and '"日本"' in text
