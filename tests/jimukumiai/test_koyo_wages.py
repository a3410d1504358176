"""The koyo_hoken wage estimate of a member's 事業所, read by jimukumiai from koyo_hoken's own app
over HTTP with jimukumiai's service token (issue 7: wages "summed from koyo_hoken data")."""

from __future__ import annotations

import uuid

from services.jimukumiai.koyo_wages import KoyoHokenWages
from tests.conftest import bearer
from tests.jimukumiai.conftest import BASE, member_body
from tests.koyo_hoken.support import BASE as KOYO
from tests.koyo_hoken.support import person


def test_member_wage_estimate_comes_from_koyo_hoken(service_client, tokens, clock, jigyosho, settings):
    tenant = str(uuid.uuid4())
    jigyosho.open(tenant, "js-1", "js-2", services=("jimukumiai", "koyo_hoken"))
    koyo = service_client("koyo_hoken")
    admin = bearer(tokens.user(tenant, roles=("tenant_admin",)))
    for hire, wage in (("2019-04-01", 250_000), ("2025-10-01", 180_000), ("2024-01-01", None)):
        r = koyo.post(f"{KOYO}/insured-persons", headers=admin, json=person(hire_date=hire, monthly_wage=wage))
        assert r.status_code == 201, r.text
    assert koyo.post(f"{KOYO}/insured-persons", headers=admin,
                     json=person("js-2", monthly_wage=500_000)).status_code == 201

    jimu = service_client("jimukumiai", clock=clock, koyo_wages=KoyoHokenWages("http://testserver", settings.keys_dir,
                                                                               http=koyo))
    m = jimu.post(f"{BASE}/members", headers=admin, json=member_body(jigyosho_id="js-1")).json()
    path = f"{BASE}/members/{m['id']}/wages/2025/koyo-hoken-estimate"
    r = jimu.get(path, headers=admin)
    assert r.status_code == 200, r.text
    e = r.json()
    assert (e["jigyosho_id"], e["koyo_wages"], e["without_wage"], e["entered_koyo_wages"]) == (
        "js-1", 250_000 * 12 + 180_000 * 6, 1, None)
    assert sorted(p["months"] for p in e["persons"]) == [6, 12, 12]

    # Entered wages sit beside it for comparison; the estimate stores nothing.
    assert jimu.put(f"{BASE}/members/{m['id']}/wages/2025", headers=admin,
                    json={"rousai_wages": 4_500_000, "koyo_wages": 4_080_000}).status_code == 201
    assert jimu.get(path, headers=admin).json()["entered_koyo_wages"] == 4_080_000

    # koyo_hoken unreachable: a clear 503, not a 500.
    down = service_client("jimukumiai", clock=clock, koyo_wages=KoyoHokenWages("http://127.0.0.1:9", settings.keys_dir))
    r = down.get(path, headers=admin)
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "雇用保険サービスに接続できません"
