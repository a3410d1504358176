"""The shakai_hoken API on its real database and NATS: 事業所 data, enrolment of a person koyo_hoken
registered, grades, premiums, loss, 随時改定 check — with DOMAIN-SHAHO.md's worked examples as the
expected figures — and the 事業所/tenant scoping."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.conftest import bearer
from tests.shakai_hoken.support import BASE, PersonSeeder, frozen, office_tokyo, schema_errors
from tests.support.jigyosho import JigyoshoSeeder

pytestmark = pytest.mark.usefixtures("persons")


@pytest.fixture
def world(service_client, tokens, jigyosho: JigyoshoSeeder, persons: PersonSeeder):
    tid = str(uuid.uuid4())
    jigyosho.open(tid, "js-1", "js-2", services=("shakai_hoken",))
    client = service_client("shakai_hoken", clock=frozen(2026, 4, 2))
    return {"c": client, "tid": tid, "h": bearer(tokens.user(tid)), "persons": persons}


def _enrol(w, birth="1981-03-15", acquired="2026-04-01", remuneration=312_000, jigyosho_id="js-1", **over):
    pid = w["persons"].register(w["tid"], jigyosho_id)
    return w["c"].post(f"{BASE}/enrolments", headers=w["h"], json={
        "insured_person_id": pid, "birth_date": birth, "acquired_on": acquired, "remuneration": remuneration,
        **over})


def test_office_enrolment_premiums_and_loss(world):
    c, h = world["c"], world["h"]
    r = c.put(f"{BASE}/offices/js-1", headers=h, json=office_tokyo())
    assert r.status_code == 201, r.text
    assert c.put(f"{BASE}/offices/js-1", headers=h, json=office_tokyo(tokutei_tekiyo=True)).status_code == 200
    assert c.get(f"{BASE}/offices/js-1", headers=h).json()["tokutei_tekiyo"] is True

    # W1 / W11: 312,000 → 健保 23 / 厚年 20 (320,000); 取得 2026-04-01 → 取得届 due 2026-04-06 (Mon).
    r = _enrol(world)
    assert r.status_code == 201, r.text
    e = r.json()
    assert (e["current"]["kenpo_grade"], e["current"]["kounen_grade"]) == (23, 20)
    assert e["current"]["kenpo_standard"] == e["current"]["kounen_standard"] == 320_000
    assert e["deadlines"][0] == {**e["deadlines"][0], "procedure": "shikaku_shutoku", "due": "2026-04-06"}

    # W4: 東京 R8, age 45, 320,000, premium month 2026-04 (支援金 included) → 18,720 + 29,280.
    p = c.get(f"{BASE}/enrolments/{e['id']}/premiums/2026-04", headers=h).json()
    assert p["health_rate"] == "11.70" and p["health_employee"] == 18_720 and p["pension_employee"] == 29_280
    assert p["employee_total"] == 48_000 and p["deduction_month"] == "2026-05" and p["kaigo"] is True
    # Before the 取得 month: not a premium month.
    r = c.get(f"{BASE}/enrolments/{e['id']}/premiums/2026-03", headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")

    # W5 result as a 定時決定 from 2026-09; the same month twice is refused.
    g = c.post(f"{BASE}/enrolments/{e['id']}/standard-remunerations", headers=h,
               json={"effective_from": "2026-09", "remuneration": 315_000, "reason": "teiji"})
    assert g.status_code == 201 and g.json()["kenpo_grade"] == 23
    again = c.post(f"{BASE}/enrolments/{e['id']}/standard-remunerations", headers=h,
                   json={"effective_from": "2026-09", "remuneration": 400_000, "reason": "correction"})
    assert again.status_code == 409
    history = c.get(f"{BASE}/enrolments/{e['id']}/standard-remunerations", headers=h).json()["items"]
    assert [x["reason"] for x in history] == ["shutoku", "teiji"]

    # W11: left 2026-06-30 → 喪失日 2026-07-01, 喪失届 due 2026-07-06; June is the last premium month.
    lost = c.post(f"{BASE}/enrolments/{e['id']}/loss", headers=h, json={"last_day": "2026-06-30"})
    assert lost.status_code == 200 and lost.json()["lost_on"] == "2026-07-01"
    assert lost.json()["deadlines"][1]["due"] == "2026-07-06"
    assert c.get(f"{BASE}/enrolments/{e['id']}/premiums/2026-06", headers=h).status_code == 200
    assert c.get(f"{BASE}/enrolments/{e['id']}/premiums/2026-07", headers=h).status_code == 422
    assert c.post(f"{BASE}/enrolments/{e['id']}/loss", headers=h, json={"last_day": "2026-06-30"}).status_code == 409

    recorded = world["persons"].events(world["tid"])
    assert [x["type"] for x in recorded] == [
        "roumu.shakai_hoken.office.updated", "roumu.shakai_hoken.office.updated",
        "roumu.shakai_hoken.enrolment.created", "roumu.shakai_hoken.standard_remuneration.changed",
        "roumu.shakai_hoken.standard_remuneration.changed", "roumu.shakai_hoken.enrolment.lost"]
    assert schema_errors(recorded) == []
    assert "1981" not in str(recorded)  # no birth date in events


def test_zuiji_check_w6_and_w7(world):
    c, h = world["c"], world["h"]
    assert c.put(f"{BASE}/offices/js-1", headers=h, json=office_tokyo()).status_code == 201
    e = _enrol(world, remuneration=260_000).json()  # 健保 20 / 厚年 17
    months = [{"month": "2026-07", "pay": 300_000, "base_days": 31}, {"month": "2026-08", "pay": 305_000,
              "base_days": 31}, {"month": "2026-09", "pay": 298_000, "base_days": 30}]
    r = c.post(f"{BASE}/enrolments/{e['id']}/zuiji-check", headers=h,
               json={"first_paid": "2026-07", "direction": "up", "months": months})
    assert r.status_code == 200, r.text
    assert r.json()["candidate"] and r.json()["effective_from"] == "2026-10" and r.json()["average"] == 301_000
    assert (r.json()["kenpo"]["new_grade"], r.json()["kounen"]["new_grade"]) == (22, 19)
    e2 = _enrol(world, remuneration=300_000).json()  # W7: 22 / 19, average 313,000 → one grade
    months = [{"month": "2026-09", "pay": 312_000, "base_days": 30}, {"month": "2026-10", "pay": 318_000,
              "base_days": 31}, {"month": "2026-11", "pay": 309_000, "base_days": 30}]
    r = c.post(f"{BASE}/enrolments/{e2['id']}/zuiji-check", headers=h,
               json={"first_paid": "2026-09", "direction": "up", "months": months})
    assert r.status_code == 200 and r.json()["candidate"] is False and r.json()["kenpo"]["gap"] == 1
    bad = c.post(f"{BASE}/enrolments/{e2['id']}/zuiji-check", headers=h,
                 json={"first_paid": "2026-08", "direction": "up", "months": months})
    assert bad.status_code == 422


def test_kumiai_rates_are_the_offices_own(world):
    c, h = world["c"], world["h"]
    body = {"seiri_kigo": "02-ニホヘ", "office_number": "54321", "insurer_kind": "kumiai",
            "kumiai_name": "テスト健康保険組合", "kumiai_rates": [
                {"effective_from": "2026-03", "health_rate": "9.00", "health_employee_rate": "4.00",
                 "kaigo_rate": "1.80", "kaigo_employee_rate": "0.80"}]}
    assert c.put(f"{BASE}/offices/js-2", headers=h, json=body).status_code == 201
    e = _enrol(world, jigyosho_id="js-2", birth="1980-01-10", remuneration=300_000).json()
    p = c.get(f"{BASE}/enrolments/{e['id']}/premiums/2026-04", headers=h).json()
    # 9.00 + 1.80 + 0.23 = 11.03 % of 300,000; employee 4.00 + 0.80 + 0.115 = 4.915 % → 14,745
    assert Decimal(p["health_total"]) == Decimal("33090")
    assert p["health_employee"] == 14_745


@pytest.mark.parametrize("body", [
    office_tokyo(prefecture=None),
    office_tokyo(prefecture="48"),
    office_tokyo(insurer_kind="kumiai"),
    office_tokyo(office_number="12-34"),
    {**office_tokyo(), "my_number": "123456789018"},
])
def test_office_validation_is_problem_json(world, body):
    r = world["c"].put(f"{BASE}/offices/js-1", headers=world["h"], json=body)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "123456789018" not in r.text


def test_enrolment_refusals(world, tokens):
    c, h = world["c"], world["h"]
    # No 社保 data for the 事業所 yet: 409, nothing written.
    assert _enrol(world).status_code == 409
    assert c.get(f"{BASE}/enrolments", headers=h).json()["total"] == 0
    assert c.put(f"{BASE}/offices/js-1", headers=h, json=office_tokyo()).status_code == 201
    # A person koyo_hoken never registered (or registered in another tenant): 404.
    r = c.post(f"{BASE}/enrolments", headers=h, json={
        "insured_person_id": str(uuid.uuid4()), "birth_date": "1990-01-01", "acquired_on": "2026-04-01",
        "remuneration": 300_000})
    assert r.status_code == 404
    other = str(uuid.uuid4())
    foreign = world["persons"].register(other, "js-1")
    r = c.post(f"{BASE}/enrolments", headers=h, json={
        "insured_person_id": foreign, "birth_date": "1990-01-01", "acquired_on": "2026-04-01",
        "remuneration": 300_000})
    assert r.status_code == 404
    # Enrolled twice while open: 409.
    pid = world["persons"].register(world["tid"], "js-1")
    body = {"insured_person_id": pid, "birth_date": "1990-01-01", "acquired_on": "2026-04-01", "remuneration": 1}
    first = c.post(f"{BASE}/enrolments", headers=h, json=body)
    assert first.status_code == 201 and first.json()["current"]["kenpo_grade"] == 1
    assert c.post(f"{BASE}/enrolments", headers=h, json={**body, "acquired_on": "2026-05-01"}).status_code == 409
    # Bad input: 422 problem+json.
    assert c.post(f"{BASE}/enrolments", headers=h, json={**body, "birth_date": "2027-01-01"}).status_code == 422
    assert c.get(f"{BASE}/enrolments/{first.json()['id']}/premiums/2026-13", headers=h).status_code == 422


def test_scoping_by_tenant_and_jigyosho(world, tokens, grants):
    c, h, tid = world["c"], world["h"], world["tid"]
    assert c.put(f"{BASE}/offices/js-1", headers=h, json=office_tokyo()).status_code == 201
    e = _enrol(world).json()
    path = f"{BASE}/enrolments/{e['id']}"
    # Another tenant's administrator: 404, as for a missing id.
    assert c.get(path, headers=bearer(tokens.user(str(uuid.uuid4()), roles=("tenant_admin",)))).status_code == 404
    # Staff of js-2 only: js-1's enrolment and office are not there.
    grants.seed(tid, "u-j2", {"shakai_hoken": "write"}, jigyosho_all=False, jigyosho_ids=["js-2"])
    j2 = bearer(tokens.user(tid, "u-j2"))
    assert c.get(path, headers=j2).status_code == 404
    assert c.get(f"{BASE}/offices/js-1", headers=j2).status_code == 404
    assert c.get(f"{BASE}/enrolments", headers=j2).json()["total"] == 0
    # Staff without the menu: 403.
    grants.seed(tid, "u-none", {"koyo_hoken": "write"})
    assert c.get(path, headers=bearer(tokens.user(tid, "u-none"))).status_code == 403
    # Read-only staff may read, not write.
    grants.seed(tid, "u-read", {"shakai_hoken": "read"})
    ro = bearer(tokens.user(tid, "u-read"))
    assert c.get(path, headers=ro).status_code == 200
    assert c.post(f"{path}/loss", headers=ro, json={"last_day": "2026-06-30"}).status_code == 403


def test_bonuses_w9_and_w10(world):
    c, h = world["c"], world["h"]
    assert c.put(f"{BASE}/offices/js-1", headers=h, json=office_tokyo()).status_code == 201
    e = _enrol(world, acquired="2026-04-01").json()  # age 45, 東京
    # W9: 1,823,456 paid 2026-07-10 → 標準賞与額 1,823,000; 厚年 capped at 1,500,000.
    r = c.post(f"{BASE}/enrolments/{e['id']}/bonuses", headers=h, json={"paid_on": "2026-07-10", "amount": 1_823_456})
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["standard"], b["kenpo_standard_bonus"], b["kounen_standard_bonus"]) == (1_823_000, 1_823_000, 1_500_000)
    assert b["premium"]["pension_employee"] == 137_250 and b["premium"]["health_employee"] == 106_645
    assert Decimal(b["premium"]["health_total"]) == Decimal("213291")
    assert b["premium"]["deduction_month"] == "2026-07"  # from the bonus itself
    assert b["deadline"]["procedure"] == "shoyo_shiharai" and b["deadline"]["due"] == "2026-07-15"
    # W10 continued in the same fiscal year: 2,700,000 in December, 900,000 in March → 健保 430,000.
    c.post(f"{BASE}/enrolments/{e['id']}/bonuses", headers=h, json={"paid_on": "2026-12-10", "amount": 2_700_000})
    r = c.post(f"{BASE}/enrolments/{e['id']}/bonuses", headers=h, json={"paid_on": "2027-03-15", "amount": 900_000})
    # 1,823,000 + 2,700,000 = 4,523,000; room to 5,730,000 is 1,207,000 ≥ 900,000.
    assert r.json()["kenpo_standard_bonus"] == 900_000 and r.json()["kenpo_fiscal_year_total"] == 5_423_000
    r = c.post(f"{BASE}/enrolments/{e['id']}/bonuses", headers=h, json={"paid_on": "2027-03-25", "amount": 400_000})
    # Same month: 900,000 + 400,000 = 1,300,000, capped at the remaining 1,207,000.
    assert (r.json()["month_total"], r.json()["kenpo_standard_bonus"], r.json()["kounen_standard_bonus"]) == (
        1_300_000, 1_207_000, 1_300_000)
    assert r.json()["kenpo_fiscal_year_total"] == 5_730_000
    listed = c.get(f"{BASE}/enrolments/{e['id']}/bonuses", headers=h).json()["items"]
    assert [x["kenpo_standard_bonus"] for x in listed] == [1_823_000, 2_700_000, 1_207_000]
    # Before the 取得 month: refused.
    assert c.post(f"{BASE}/enrolments/{e['id']}/bonuses", headers=h,
                  json={"paid_on": "2026-03-10", "amount": 1}).status_code == 422
    assert schema_errors(world["persons"].events(world["tid"])) == []


def test_zuiji_check_from_stored_pay(world):
    """A 月額変更 candidate found from the wages entered (W6) and one correctly not found (W7: one grade)."""
    c, h = world["c"], world["h"]
    assert c.put(f"{BASE}/offices/js-1", headers=h, json=office_tokyo()).status_code == 201
    found = _enrol(world, remuneration=260_000).json()
    for month, pay, days in (("2026-07", 300_000, 31), ("2026-08", 305_000, 31), ("2026-09", 298_000, 30)):
        assert c.put(f"{BASE}/enrolments/{found['id']}/pay-months/{month}", headers=h,
                     json={"pay": pay, "base_days": days}).status_code == 200
    r = c.post(f"{BASE}/enrolments/{found['id']}/zuiji-check", headers=h, json={"first_paid": "2026-07",
                                                                                 "direction": "up"})
    assert r.status_code == 200 and r.json()["candidate"] and r.json()["effective_from"] == "2026-10"
    not_found = _enrol(world, remuneration=300_000).json()
    for month, pay in (("2026-09", 312_000), ("2026-10", 318_000), ("2026-11", 309_000)):
        c.put(f"{BASE}/enrolments/{not_found['id']}/pay-months/{month}", headers=h, json={"pay": pay, "base_days": 30})
    r = c.post(f"{BASE}/enrolments/{not_found['id']}/zuiji-check", headers=h, json={"first_paid": "2026-09",
                                                                                     "direction": "up"})
    assert r.status_code == 200 and r.json()["candidate"] is False and r.json()["average"] == 313_000
    # A month not entered: 422, not a guess.
    r = c.post(f"{BASE}/enrolments/{not_found['id']}/zuiji-check", headers=h, json={"first_paid": "2026-10",
                                                                                     "direction": "up"})
    assert r.status_code == 422
