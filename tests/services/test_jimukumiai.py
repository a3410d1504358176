"""jimukumiai skeleton: entrust a member, read, list, tenant isolation, problem+json validation errors."""

import itertools
import uuid

from tests.conftest import bearer
from tests.services.support import assert_matches_contract, outbox_payloads
from tests.support.jigyosho import jigyosho  # noqa: F401 - the 事業所 master seeder fixture

BASE = "/api/v1/jimukumiai"
_numbers = itertools.count(1)


def member(jigyosho_id: str = "js-1", **over):
    # A fresh 基幹番号 each time: the number is unique per tenant.
    body = {"jigyosho_id": jigyosho_id, "name": "株式会社山田製作所",
            "labour_insurance_number": f"13101{next(_numbers):06d}000", "entrusted_from": "2026-04-01",
            "regular_workers": 12, "main_business": "other", "rousai_code": "94", "koyo_kubun": "ippan"}
    return {**body, **over}


def test_entrust_then_get_and_event(service_client, tokens, settings, jigyosho):  # noqa: F811
    c = service_client("jimukumiai")
    tenant = str(uuid.uuid4())
    jigyosho.open(tenant, "js-1")
    r = c.post(f"{BASE}/members", headers=bearer(tokens.user(tenant)),
               json=member(labour_insurance_number="13-1-01-999999-001"))
    assert r.status_code == 201, r.text
    created = r.json()
    # Printed separators are accepted and removed.
    assert created["labour_insurance_number"] == "13101999999001"
    assert created["status"] == "active" and created["version"] == 1

    r = c.get(f"{BASE}/members/{created['id']}", headers=bearer(tokens.user(tenant)))
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    assert r.json() == created

    [event] = outbox_payloads(settings, "jimukumiai", created["id"])
    assert event["type"] == "roumu.jimukumiai.member.entrusted"
    assert event["subject"]["member_id"] == created["id"] and event["tenant_id"] == tenant
    assert_matches_contract(event)


def test_same_number_twice_in_a_tenant_is_409(service_client, tokens, jigyosho):  # noqa: F811
    c = service_client("jimukumiai")
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    jigyosho.open(tenant, "js-1")
    jigyosho.open(other, "js-1")
    headers = bearer(tokens.user(tenant))
    body = member()
    assert c.post(f"{BASE}/members", headers=headers, json=body).status_code == 201
    r = c.post(f"{BASE}/members", headers=headers, json=body)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    # Another tenant (another 事務組合) is not affected, and learns nothing.
    assert c.post(f"{BASE}/members", headers=bearer(tokens.user(other)), json=body).status_code == 201


def test_other_tenant_gets_404(service_client, tokens, jigyosho):  # noqa: F811
    c = service_client("jimukumiai")
    tenant = str(uuid.uuid4())
    jigyosho.open(tenant, "js-1")
    r = c.post(f"{BASE}/members", headers=bearer(tokens.user(tenant)), json=member())
    assert r.status_code == 201, r.text
    r = c.get(f"{BASE}/members/{r.json()['id']}", headers=bearer(tokens.user(str(uuid.uuid4()))))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_list_is_tenant_scoped_and_paged(service_client, tokens, jigyosho):  # noqa: F811
    c = service_client("jimukumiai")
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    jigyosho.open(mine, "js-a", "js-b")
    jigyosho.open(other, "js-a")
    for js in ("js-a", "js-a", "js-b"):
        assert c.post(f"{BASE}/members", headers=bearer(tokens.user(mine)), json=member(js)).status_code == 201
    assert c.post(f"{BASE}/members", headers=bearer(tokens.user(other)), json=member("js-a")).status_code == 201
    r = c.get(f"{BASE}/members", params={"limit": 2}, headers=bearer(tokens.user(mine)))
    assert r.status_code == 200 and r.json()["total"] == 3 and len(r.json()["items"]) == 2
    r = c.get(f"{BASE}/members", params={"jigyosho_id": "js-a"}, headers=bearer(tokens.user(mine)))
    assert r.json()["total"] == 2
    assert c.get(f"{BASE}/members", params={"limit": 1000}, headers=bearer(tokens.user(mine))).status_code == 422


def test_validation_error_is_problem_json_with_fields(service_client, tokens):
    c = service_client("jimukumiai")
    headers = bearer(tokens.user(str(uuid.uuid4())))
    for bad in ("1310112345600", "131011234560001", "13101A23456000"):
        r = c.post(f"{BASE}/members", headers=headers, json=member(labour_insurance_number=bad))
        assert r.status_code == 422, bad
        body = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert body["title"] == "入力内容に誤りがあります"
        assert [e["field"] for e in body["errors"]] == ["body.labour_insurance_number"]
    r = c.post(f"{BASE}/members", headers=headers, json=member(name="", unknown=1))
    assert {e["field"] for e in r.json()["errors"]} == {"body.name", "body.unknown"}
