"""The 定時決定 run through the API over 1,000 persons in three 事業所 (issue #26 "Must show"): one
person excluded for a 6/1 acquisition, one kept at the 従前 amount with a 保険者算定 flag (no month of
17 days), one with a short May dropped (DOMAIN-SHAHO.md W5); every other person's grades are the
table's (DOMAIN-SHAHO.md §1.2, copied here as the expected figures). Then: a run interrupted
half-way is finished by running it again, and a third run writes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, insert, select

from services.shakai_hoken import teiji_run
from services.shakai_hoken.models import Enrolment, PayMonthRow, PersonRef, StandardRemuneration, TeijiResultRow
from services.shakai_hoken.rules.settings import DEFAULT_SETTINGS
from tests.conftest import bearer
from tests.shakai_hoken.support import BASE, PersonSeeder, frozen, office_tokyo, schema_errors
from tests.support.jigyosho import JigyoshoSeeder

# 報酬月額 → (健保 grade, 厚年 grade, 健保 standard, 厚年 standard), read off DOMAIN-SHAHO.md §1.2.
LEVELS = {98_000: (5, 2, 98_000, 98_000), 300_000: (22, 19, 300_000, 300_000),
          312_000: (23, 20, 320_000, 320_000), 700_000: (37, 32, 710_000, 650_000),
          1_400_000: (50, 32, 1_390_000, 650_000)}
OFFICES = ("js-a", "js-b", "js-c")
NOW = datetime(2026, 7, 2, 3, 0, tzinfo=UTC)


def seed_bulk(persons: PersonSeeder, tid: str, n: int) -> dict[str, int]:
    """n enrolments (acquired 2020-10-01, 健保 20 / 厚年 17 since then) with April–June pay at one of
    LEVELS, all months 30+ days; rows written in bulk (the run, not the seeding, is under test)."""
    expected: dict[str, int] = {}
    enrol, grades, pays, refs = [], [], [], []
    levels = list(LEVELS)
    for i in range(n):
        eid, pid, jid = str(uuid.uuid4()), str(uuid.uuid4()), OFFICES[i % 3]
        level = levels[i % len(levels)]
        expected[eid] = level
        refs.append({"tenant_id": tid, "insured_person_id": pid, "jigyosho_id": jid, "hire_date": date(2020, 10, 1),
                     "status": "active", "updated_at": NOW})
        enrol.append({"id": eid, "tenant_id": tid, "jigyosho_id": jid, "insured_person_id": pid,
                      "birth_date": date(1980, 5, 5), "acquired_on": date(2020, 10, 1), "lost_on": None,
                      "open_person": pid, "worker_type": "ordinary", "kenpo": True, "kounen": True,
                      "created_at": NOW, "updated_at": NOW, "version": 1})
        grades.append({"id": str(uuid.uuid4()), "tenant_id": tid, "enrolment_id": eid,
                       "effective_from": date(2020, 10, 1), "reason": "shutoku", "remuneration": 260_000,
                       "kenpo_grade": 20, "kenpo_standard": 260_000, "kounen_grade": 17, "kounen_standard": 260_000,
                       "created_at": NOW})
        for m in (4, 5, 6):
            pays.append({"id": str(uuid.uuid4()), "tenant_id": tid, "enrolment_id": eid, "month": date(2026, m, 1),
                         "pay": level, "base_days": 30, "retro_pay": 0, "partial_first_month": False,
                         "leave_pay": False, "updated_at": NOW})
    with persons.db.transaction() as s:
        s.execute(insert(PersonRef), refs)
        s.execute(insert(Enrolment), enrol)
        s.execute(insert(StandardRemuneration), grades)
        s.execute(insert(PayMonthRow), pays)
    return expected


@pytest.fixture
def world(service_client, tokens, jigyosho: JigyoshoSeeder, persons: PersonSeeder):
    tid = str(uuid.uuid4())
    jigyosho.open(tid, *OFFICES, services=("shakai_hoken",))
    c = service_client("shakai_hoken", clock=frozen(2026, 7, 2))
    h = bearer(tokens.user(tid))
    for j in OFFICES:
        assert c.put(f"{BASE}/offices/{j}", headers=h, json=office_tokyo()).status_code == 201
    return c, h, tid


def _enrol(c, h, persons, tid, jid, acquired, remuneration=300_000):
    pid = persons.register(tid, jid)
    r = c.post(f"{BASE}/enrolments", headers=h, json={"insured_person_id": pid, "birth_date": "1985-01-01",
                                                      "acquired_on": acquired, "remuneration": remuneration})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _pay(c, h, eid, month, pay, days):
    r = c.put(f"{BASE}/enrolments/{eid}/pay-months/{month}", headers=h, json={"pay": pay, "base_days": days})
    assert r.status_code == 200, r.text


def test_thousand_persons_three_offices(world, persons: PersonSeeder):
    c, h, tid = world
    expected = seed_bulk(persons, tid, 997)
    # Through the API: the three special persons.
    june = _enrol(c, h, persons, tid, "js-a", "2026-06-01")  # 6/1 acquisition: excluded
    _pay(c, h, june, "2026-06", 300_000, 30)
    flagged = _enrol(c, h, persons, tid, "js-b", "2025-04-01", remuneration=300_000)  # 22 / 19
    for m in ("2026-04", "2026-05", "2026-06"):
        _pay(c, h, flagged, m, 100_000, 10)  # no month of 17 days: 保険者算定, 従前 kept
    w5 = _enrol(c, h, persons, tid, "js-c", "2025-04-01", remuneration=300_000)
    _pay(c, h, w5, "2026-04", 310_000, 31)
    _pay(c, h, w5, "2026-05", 250_000, 16)
    _pay(c, h, w5, "2026-06", 320_000, 30)

    r = c.post(f"{BASE}/teiji-runs", headers=h, json={"year": 2026})
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["written"] == 1000
    by_office = {s["jigyosho_id"]: s for s in run["summary"]}
    assert sum(s["decided"] for s in run["summary"]) == 999 and by_office["js-a"]["excluded"] == 1
    assert by_office["js-b"]["kept_previous"] == 1

    results = {}
    offset = 0
    while True:
        page = c.get(f"{BASE}/teiji-runs/{run['id']}/results", headers=h,
                     params={"limit": 100, "offset": offset}).json()
        results.update({x["enrolment_id"]: x for x in page["items"]})
        offset += 100
        if offset >= page["total"]:
            break
    assert len(results) == 1000
    for eid, level in expected.items():
        x = results[eid]
        assert (x["kenpo_grade"], x["kounen_grade"], x["kenpo_standard"], x["kounen_standard"]) == LEVELS[level]
        assert (x["old_kenpo_grade"], x["old_kounen_grade"], x["remuneration"]) == (20, 17, level)
        assert x["flags"] == [] and x["status"] == "decided"
    assert results[june]["status"] == "excluded" and results[june]["exclusion"] == "acquired_on_or_after_6_1"
    f = results[flagged]
    assert f["kept_previous"] and (f["kenpo_grade"], f["kounen_grade"]) == (22, 19)
    assert any("保険者算定" in m for m in f["flags"])
    s = results[w5]
    assert (s["remuneration"], s["kenpo_grade"], s["kounen_grade"], s["kenpo_standard"]) == (315_000, 23, 20, 320_000)
    assert any("2026-05" in m and "16日" in m for m in s["flags"])

    # Run again: idempotent.
    again = c.post(f"{BASE}/teiji-runs", headers=h, json={"year": 2026})
    assert again.status_code == 201 and again.json()["written"] == 0 and again.json()["id"] == run["id"]
    completed = [e for e in persons.events(tid) if e["type"] == "roumu.shakai_hoken.teiji_run.completed"]
    assert [e["data"]["written"] for e in completed] == [1000, 0] and schema_errors(completed) == []


class Crash(Exception):
    pass


def test_an_interrupted_run_is_finished_by_running_again(world, persons: PersonSeeder, monkeypatch):
    c, h, tid = world
    seed_bulk(persons, tid, 300)
    monkeypatch.setattr(teiji_run, "CHUNK", 50)
    chunks = {"n": 0}
    real = persons.db.transaction

    def failing_tx():  # the third chunk's transaction fails mid-run (a crash after 100 results)
        chunks["n"] += 1
        if chunks["n"] == 5:  # open_run, candidates, chunk 1, chunk 2, then this
            raise Crash
        return real()

    with pytest.raises(Crash):
        teiji_run.run(failing_tx, tid, 2026, None, "u-1", DEFAULT_SETTINGS, NOW)
    with persons.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(TeijiResultRow).where(TeijiResultRow.tenant_id == tid)) == 100
    r = c.post(f"{BASE}/teiji-runs", headers=h, json={"year": 2026})
    assert r.status_code == 201 and r.json()["written"] == 200
    with persons.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(TeijiResultRow).where(TeijiResultRow.tenant_id == tid)) == 300
    assert sum(x["decided"] for x in r.json()["summary"]) == 300


def test_a_run_for_one_office_and_a_restricted_user(world, persons: PersonSeeder, tokens, grants):
    c, h, tid = world
    seed_bulk(persons, tid, 30)
    grants.seed(tid, "u-b", {"shakai_hoken": "write"}, jigyosho_all=False, jigyosho_ids=["js-b"])
    hb = bearer(tokens.user(tid, "u-b"))
    assert c.post(f"{BASE}/teiji-runs", headers=hb, json={"year": 2026, "jigyosho_ids": ["js-a"]}).status_code == 404
    r = c.post(f"{BASE}/teiji-runs", headers=hb, json={"year": 2026})
    assert r.status_code == 201 and r.json()["written"] == 10 and r.json()["jigyosho_ids"] == ["js-b"]
    assert [s["jigyosho_id"] for s in r.json()["summary"]] == ["js-b"]
    # The administrator's run finishes the rest; the restricted user still sees js-b only.
    full = c.post(f"{BASE}/teiji-runs", headers=h, json={"year": 2026}).json()
    assert full["written"] == 20
    seen = c.get(f"{BASE}/teiji-runs/{full['id']}/results", headers=hb, params={"limit": 100}).json()
    assert seen["total"] == 10 and {x["jigyosho_id"] for x in seen["items"]} == {"js-b"}
    other = bearer(tokens.user(str(uuid.uuid4()), roles=("tenant_admin",)))
    assert c.get(f"{BASE}/teiji-runs/{full['id']}", headers=other).status_code == 404
