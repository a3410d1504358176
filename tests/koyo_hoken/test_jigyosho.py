"""koyo_hoken and the 事業所 master (shared.jigyosho_directory): a hire, a 届出 or a CSV row for a
事業所 accounts never published to the tenant is 404 (a row error in an import); a closed (廃止)
事業所 takes no new hire, 取得届 or 転勤 in — but its 資格喪失届 are still due, and what was recorded
stays readable."""

from __future__ import annotations

from tests.conftest import bearer
from tests.koyo_hoken.support import ALL_WRITE, BASE, person, tenant
from tests.koyo_hoken.test_csv import HEADER, hire, post


def _register(c, h, **over):
    return c.post(f"{BASE}/insured-persons", headers=h, json=person(**over))


def _procedure(c, h, pid, kind, event_date, **over):
    return c.post(f"{BASE}/procedures", headers=h,
                  json={"insured_person_id": pid, "kind": kind, "event_date": event_date, **over})


def test_unknown_jigyosho_is_404_like_another_tenants_id(service_client, tokens, grants):
    c = service_client("koyo_hoken")
    tid = tenant()
    h = bearer(tokens.user(tid))
    r = _register(c, h, jigyosho_id="js-unknown")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/not-found") and body["title"] == "指定されたリソースが見つかりません"
    assert "事業所" in body["detail"] and body["jigyosho_id"] == "js-unknown"
    # Another tenant's 事業所 (js-1 exists there) answers exactly the same.
    theirs = _register(c, bearer(tokens.user(tenant(("js-x",)))), jigyosho_id="js-1")
    assert theirs.status_code == 404 and {k: v for k, v in theirs.json().items() if k not in ("request_id",)} == {
        **{k: v for k, v in body.items() if k != "request_id"}, "jigyosho_id": "js-1"}
    # Staff limited to js-a: a 事業所 outside the grant stays a plain 404 (nothing says whether it exists).
    grants.seed(tid, "u-a", ALL_WRITE, jigyosho_all=False, jigyosho_ids=["js-a"])
    for js in ("js-b", "js-unknown"):
        r = _register(c, bearer(tokens.user(tid, "u-a")), jigyosho_id=js)
        assert r.status_code == 404 and "detail" not in r.json() and "jigyosho_id" not in r.json()
    assert c.get(f"{BASE}/insured-persons", headers=h).json()["total"] == 0

    # 転勤 to an unknown 事業所: 404, and the person stays where they were.
    p = _register(c, h, jigyosho_id="js-1", hire_date="2025-04-01", hihokensha_bango="1234-567890-1").json()
    r = _procedure(c, h, p["id"], "tenkin", "2025-04-25", to_jigyosho_id="js-unknown")
    assert r.status_code == 404 and r.json()["jigyosho_id"] == "js-unknown"
    assert c.get(f"{BASE}/insured-persons/{p['id']}", headers=h).json()["jigyosho_id"] == "js-1"


def test_closed_jigyosho_takes_no_hire_shutoku_or_tenkin_but_soshitsu_and_reads(service_client, tokens, jigyosho):
    c = service_client("koyo_hoken")
    tid = tenant()
    h = bearer(tokens.user(tid))
    staying = _register(c, h, jigyosho_id="js-1", hire_date="2025-04-01").json()
    leaving = _register(c, h, jigyosho_id="js-1", hire_date="2025-04-01", hihokensha_bango="1234-567890-1").json()
    elsewhere = _register(c, h, jigyosho_id="js-2", hire_date="2025-04-01", hihokensha_bango="2345-678901-2").json()
    jigyosho.close(tid, "js-1", closed_on="2025-09-30", services=("koyo_hoken",))

    r = _register(c, h, jigyosho_id="js-1")
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["type"].endswith("/jigyosho-closed") and body["title"] == "廃止された事業所です"
    assert body["closed_on"] == "2025-09-30" and "2025-09-30" in body["detail"]
    assert _procedure(c, h, staying["id"], "shikaku_shutoku", "2025-04-01").status_code == 409
    r = _procedure(c, h, elsewhere["id"], "tenkin", "2025-10-01", to_jigyosho_id="js-1")
    assert r.status_code == 409 and r.json()["type"].endswith("/jigyosho-closed")

    # A 資格喪失届 is due for everyone insured at a closed 事業所: accepted.
    r = _procedure(c, h, leaving["id"], "shikaku_soshitsu", "2025-09-30", details={"cause": "2"})
    assert r.status_code == 201, r.text
    # Reads of what exists stay allowed.
    assert c.get(f"{BASE}/insured-persons/{staying['id']}", headers=h).status_code == 200
    assert c.get(f"{BASE}/insured-persons", headers=h, params={"jigyosho_id": "js-1"}).json()["total"] == 2
    assert c.get(f"{BASE}/procedures/{r.json()['id']}", headers=h).status_code == 200


def test_csv_rows_of_unknown_or_closed_jigyosho_are_row_errors(service_client, tokens, jigyosho):
    c = service_client("koyo_hoken")
    tid = tenant()
    h = bearer(tokens.user(tid))
    r = post(c, h, HEADER + hire(1, js="js-2", number="3333-333333-3"))
    assert r.status_code == 200, r.text
    jigyosho.close(tid, "js-2", services=("koyo_hoken",))

    body = HEADER + hire(1) + hire(2, js="js-unknown") + hire(3, js="js-2")
    r = post(c, h, body)
    assert r.status_code == 422
    errors = r.json()["result"]["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(3, "jigyosho_id"), (4, "jigyosho_id")]
    assert "見つかりません" in errors[0]["message"] and errors[1]["message"] == "廃止された事業所です"
    assert c.get(f"{BASE}/insured-persons", headers=h, params={"jigyosho_id": "js-1"}).json()["total"] == 0

    r = post(c, h, body, mode="partial")
    assert r.status_code == 200 and r.json()["imported_persons"] == 1
    assert [e["row"] for e in r.json()["errors"]] == [3, 4]

    # A leaver of the closed 事業所: the draft 資格喪失届 is created.
    r = post(c, h, HEADER + "leave,js-2,,,,,,,,,3333-333333-3,,2025-09-30,2,0\n")
    assert r.status_code == 200 and r.json()["created_procedures"] == 1, r.text
