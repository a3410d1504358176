"""The gateway's part of the Partner API: the public contract served without a token, and the
partner client's rate-limit state on every answer."""

from __future__ import annotations

import json

import httpx

from ops.partner_contract import PARTNER_CONTRACT
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER
from tests.conftest import bearer


def partner_token(tokens, client_id: str = "pc_gw") -> str:
    return tokens.access.sign({"sub": client_id, "tid": "t-1", "typ": "partner", "scope": "employees:read",
                               "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, 300)


def test_the_public_contract_is_served_by_the_gateway(start_gateway):
    gw = start_gateway()
    r = httpx.get(f"{gw}/api/v1/partner/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == json.loads(PARTNER_CONTRACT.read_text())
    assert r.json()["info"]["title"] == "Roumu Partner API"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_partner_answers_carry_the_rate_limit_state(start_gateway, contract, tokens):
    _, echo_url = contract
    gw = start_gateway({"accounts": echo_url}, rate_limit_partner="5/minute", rate_limit_tenant="1000/minute",
                       rate_limit_ip="1000/minute")
    h = bearer(partner_token(tokens))
    seen = []
    for _ in range(5):
        r = httpx.get(f"{gw}/api/v1/accounts/echo", headers=h)
        assert r.status_code == 200
        assert r.headers["ratelimit-policy"] == '"partner";q=5;w=60'
        seen.append(r.headers["ratelimit"])
    remaining = [int(v.split(";r=")[1].split(";")[0]) for v in seen]
    assert remaining == [4, 3, 2, 1, 0]
    over = httpx.get(f"{gw}/api/v1/accounts/echo", headers=h)
    assert over.status_code == 429 and over.headers["ratelimit-policy"] == '"partner";q=5;w=60'
    # A user's answers are not decorated (the SPA does not need them on every call).
    user = httpx.get(f"{gw}/api/v1/accounts/echo", headers=bearer(tokens.user("t-1")))
    assert "ratelimit" not in user.headers


def test_the_rendered_reference_and_the_asyncapi_document_are_served_offline(start_gateway):
    """Issue #28: partners had only the raw JSON; each service's /docs loaded scripts from a CDN."""
    import re

    from ops import asyncapi

    gw = start_gateway()
    for page in ("/api/v1/partner/docs", "/api/v1/partner/docs/events"):
        r = httpx.get(f"{gw}{page}")
        assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "style-src 'self'" in csp and "script" not in csp
        assert "<script" not in r.text
        # Every link and stylesheet is on this gateway: nothing from a CDN.
        assert not [u for u in re.findall(r'(?:href|src)="([^"]+)"', r.text) if not u.startswith(("/", "#"))]
    reference = httpx.get(f"{gw}/api/v1/partner/docs").text
    assert 'id="op-koyo_hoken-registerInsuredPerson"' in reference and "PersonUpdatedWebhook" in reference
    css = httpx.get(f"{gw}/api/v1/partner/docs/reference.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    events = httpx.get(f"{gw}/api/v1/partner/asyncapi.json")
    assert events.status_code == 200 and events.json() == json.loads(asyncapi.ASYNCAPI_FILE.read_text())
    assert "roumu.koyo_hoken.insured_person.updated" in httpx.get(f"{gw}/api/v1/partner/docs/events").text
