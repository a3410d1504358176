"""koyo_hoken skeleton: register, read, list, tenant isolation, problem+json validation errors."""

import uuid

from tests.conftest import bearer
from tests.services.support import assert_matches_contract, outbox_payloads
from tests.support.jigyosho import jigyosho  # noqa: F401 - the 事業所 master seeder fixture

BASE = "/api/v1/koyo-hoken"


def person(jigyosho_id: str = "js-1", **over):
    body = {"jigyosho_id": jigyosho_id, "family_name": "山田", "given_name": "太郎",
            "family_name_kana": "ヤマダ", "given_name_kana": "タロウ",
            "birth_date": "1990-04-01", "hire_date": "2026-04-01", "weekly_hours": "37.5"}
    return {**body, **over}


def test_register_then_get_and_event(service_client, tokens, settings, jigyosho):  # noqa: F811
    c = service_client("koyo_hoken")
    tenant = str(uuid.uuid4())
    jigyosho.open(tenant, "js-1")
    r = c.post(f"{BASE}/insured-persons", headers=bearer(tokens.user(tenant)), json=person())
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "active" and created["version"] == 1 and created["tenant_id"] == tenant
    assert r.headers["location"].endswith(created["id"])

    r = c.get(f"{BASE}/insured-persons/{created['id']}", headers=bearer(tokens.user(tenant)))
    assert r.status_code == 200
    assert r.headers["etag"] == '"1"'
    assert r.json()["family_name_kana"] == "ヤマダ"
    assert float(r.json()["weekly_hours"]) == 37.5

    [payload] = outbox_payloads(settings, "koyo_hoken", created["id"])
    assert payload["type"] == "roumu.koyo_hoken.insured_person.registered"
    assert_matches_contract(payload)
    assert payload["subject"] == {"insured_person_id": created["id"], "tenant_id": tenant, "jigyosho_id": "js-1"}
    # Names and birth dates never leave the service in events.
    assert "山田" not in str(payload) and "1990-04-01" not in str(payload)


def test_other_tenant_gets_404(service_client, tokens, jigyosho):  # noqa: F811
    c = service_client("koyo_hoken")
    tenant = str(uuid.uuid4())
    jigyosho.open(tenant, "js-1")
    r = c.post(f"{BASE}/insured-persons", headers=bearer(tokens.user(tenant)), json=person())
    assert r.status_code == 201
    r = c.get(f"{BASE}/insured-persons/{r.json()['id']}", headers=bearer(tokens.user(str(uuid.uuid4()))))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "指定されたリソースが見つかりません"


def test_list_is_tenant_scoped_filtered_and_paged(service_client, tokens, jigyosho):  # noqa: F811
    c = service_client("koyo_hoken")
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    jigyosho.open(mine, "js-a", "js-b")
    jigyosho.open(other, "js-a")
    for js in ("js-a", "js-a", "js-a", "js-b"):
        assert c.post(f"{BASE}/insured-persons", headers=bearer(tokens.user(mine)), json=person(js)).status_code == 201
    assert c.post(f"{BASE}/insured-persons", headers=bearer(tokens.user(other)), json=person("js-a")).status_code == 201

    r = c.get(f"{BASE}/insured-persons", params={"jigyosho_id": "js-a", "limit": 2},
              headers=bearer(tokens.user(mine)))
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 3 and len(page["items"]) == 2
    r2 = c.get(f"{BASE}/insured-persons", params={"jigyosho_id": "js-a", "limit": 2, "offset": 2},
               headers=bearer(tokens.user(mine)))
    ids = {i["id"] for i in page["items"]} | {i["id"] for i in r2.json()["items"]}
    assert len(ids) == 3
    assert all(i["tenant_id"] == mine for i in page["items"] + r2.json()["items"])

    r = c.get(f"{BASE}/insured-persons", headers=bearer(tokens.user(mine)))
    assert r.json()["total"] == 4

    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        r = c.get(f"{BASE}/insured-persons", params=bad, headers=bearer(tokens.user(mine)))
        assert r.status_code == 422, bad


def test_validation_error_is_problem_json_with_fields(service_client, tokens, jigyosho):  # noqa: F811
    c = service_client("koyo_hoken")
    tenant = str(uuid.uuid4())
    jigyosho.open(tenant, "js-1")
    headers = bearer(tokens.user(tenant))
    r = c.post(f"{BASE}/insured-persons", headers=headers,
               json=person(family_name_kana="Yamada", given_name_kana="太郎", weekly_hours="169"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["title"] == "入力内容に誤りがあります"
    fields = {e["field"] for e in body["errors"]}
    assert {"body.family_name_kana", "body.given_name_kana", "body.weekly_hours"} <= fields

    # A My Number with a wrong check digit is refused, and never echoed back.
    r = c.post(f"{BASE}/insured-persons", headers=headers, json=person(my_number="123456789012"))
    assert r.status_code == 422
    assert "123456789012" not in r.text
    # An unknown field is refused, not silently stored.
    assert c.post(f"{BASE}/insured-persons", headers=headers, json=person(nickname="x")).status_code == 422

    # Hiragana and half-width kana are normalised to full-width katakana, not refused.
    r = c.post(f"{BASE}/insured-persons", headers=headers, json=person(family_name_kana="やまだ",
                                                                        given_name_kana="ﾀﾛｳ"))
    assert r.status_code == 201, r.text
    assert (r.json()["family_name_kana"], r.json()["given_name_kana"]) == ("ヤマダ", "タロウ")

    r = c.post(f"{BASE}/insured-persons", headers=headers, json=person(hire_date="1980-01-01"))
    assert r.status_code == 422


def test_requires_a_tenant_token(service_client, tokens):
    c = service_client("koyo_hoken")
    assert c.post(f"{BASE}/insured-persons", json=person()).status_code == 401
    assert c.post(f"{BASE}/insured-persons", headers=bearer(tokens.operator()), json=person()).status_code == 403
