"""The 事業所 wage estimate for a fiscal year through the API: the worked example of
tests/koyo_hoken/test_rules_wage_totals.py from registered persons, 事業所 scoping, service tokens."""

from __future__ import annotations

from tests.conftest import bearer
from tests.koyo_hoken.support import ALL_WRITE, BASE, person, tenant


def _register(c, h, **over):
    r = c.post(f"{BASE}/insured-persons", headers=h, json=person(**over))
    assert r.status_code == 201, r.text
    return r.json()


def test_wage_estimate_of_a_jigyosho_for_a_fiscal_year(service_client, tokens, grants):
    c = service_client("koyo_hoken")
    tid = tenant()
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    p1 = _register(c, admin, hire_date="2019-04-01", monthly_wage=250_000)
    p2 = _register(c, admin, hire_date="2025-10-01", monthly_wage=180_000)
    p3 = _register(c, admin, hire_date="2023-04-01", monthly_wage=300_000, hihokensha_bango="1234-567890-1")
    left = c.post(f"{BASE}/procedures", headers=admin, json={"insured_person_id": p3["id"], "kind": "shikaku_soshitsu",
                                                             "event_date": "2025-05-20", "details": {"cause": "2"}})
    assert left.status_code == 201, left.text
    p4 = _register(c, admin, hire_date="2024-01-01", monthly_wage=None)
    _register(c, admin, jigyosho_id="js-2", hire_date="2019-04-01", monthly_wage=999_000)  # another 事業所

    r = c.get(f"{BASE}/wage-estimate", headers=admin, params={"jigyosho_id": "js-1", "fiscal_year": 2025})
    assert r.status_code == 200, r.text
    e = r.json()
    assert (e["koyo_wages"], e["without_wage"]) == (3_000_000 + 1_080_000 + 600_000, 1)
    got = {p["person_id"]: (p["months"], p["wages"]) for p in e["persons"]}
    assert got == {p1["id"]: (12, 3_000_000), p2["id"]: (6, 1_080_000), p3["id"]: (2, 600_000), p4["id"]: (12, 0)}
    assert "賞与" in e["basis"] and "山田" not in r.text  # ids and amounts, no names

    # The jimukumiai service reads it with its service token; staff of another 事業所 get 404.
    svc = bearer(tokens.service("jimukumiai", "koyo_hoken", tid))
    assert c.get(f"{BASE}/wage-estimate", headers=svc,
                 params={"jigyosho_id": "js-1", "fiscal_year": 2025}).json()["koyo_wages"] == 4_680_000
    grants.seed(tid, "u-b", ALL_WRITE, jigyosho_all=False, jigyosho_ids=["js-2"])
    staff = bearer(tokens.user(tid, "u-b"))
    assert c.get(f"{BASE}/wage-estimate", headers=staff,
                 params={"jigyosho_id": "js-1", "fiscal_year": 2025}).status_code == 404
    other = bearer(tokens.user(tenant(jigyosho=()), roles=("tenant_admin",)))  # knows no 事業所 js-1
    assert c.get(f"{BASE}/wage-estimate", headers=other,
                 params={"jigyosho_id": "js-1", "fiscal_year": 2025}).status_code == 404
    assert c.get(f"{BASE}/wage-estimate", headers=admin,
                 params={"jigyosho_id": "js-1", "fiscal_year": 1999}).status_code == 422
