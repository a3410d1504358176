"""Eligibility as data (issue 25): stored decisions, the 2028-10-01 re-judgement over the API and by
the scheduler, one change (and one event) per person and date."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from services.koyo_hoken import rejudge
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import EligibilityChange, RejudgementSchedule
from services.koyo_hoken.settings import KoyoHokenSettings
from shared.clock import FrozenClock
from shared.crypto import load_data_keys
from shared.db import Database
from tests.conftest import bearer
from tests.koyo_hoken.support import ALL_WRITE, BASE, MY_NUMBER, frozen, person, tenant
from tests.services.support import assert_matches_contract, outbox_payloads

CHANGED = "roumu.koyo_hoken.eligibility.changed"


def register(c, h, js, hours, **over):
    r = c.post(f"{BASE}/insured-persons", headers=h, json=person(js, weekly_hours=hours, hire_date="2025-04-01",
                                                                   **over))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_the_2028_10_01_rejudgement_lists_the_12_hour_part_timer_with_a_due_shutoku_todoke(service_client, tokens,
                                                                                           settings):
    c = service_client("koyo_hoken", clock=frozen(2026, 4, 3))
    tid = tenant()
    h = bearer(tokens.user(tid))
    part = register(c, h, "js-1", "12", my_number=MY_NUMBER, monthly_wage=98000)
    full = register(c, h, "js-1", "25")
    student = register(c, h, "js-1", "12", student="daytime")
    other = register(c, h, "js-2", "15")
    # The decision is stored at registration, under the rules of its date (20 h).
    d = c.get(f"{BASE}/insured-persons/{part}/eligibility", headers=h).json()
    assert (d["insured"], d["reason_code"], d["rule_version"], d["judged_on"], d["stored"]) == \
        (False, "under_weekly_hours", "koyo-eligibility/2022-01-01", "2026-04-03", True)

    # The deadline view owes a 取得届 only for the insured: the 25-hour person, not the 12- and 15-hour ones.
    due = c.get(f"{BASE}/deadlines", headers=h, params={"kind": "shikaku_shutoku"}).json()["items"]
    assert [(i["insured_person_id"], i["event_date"]) for i in due] == [(full, "2025-04-01")]

    r = c.post(f"{BASE}/eligibility/rejudgements", headers=h, json={"as_of": "2028-10-01"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["judged"], out["created"], out["rule_version"]) == (4, 2, "koyo-eligibility/2028-10-01")
    by_js = {g["jigyosho_id"]: g["changes"] for g in out["jigyosho"]}
    assert sorted(by_js) == ["js-1", "js-2"]
    [change] = by_js["js-1"]
    assert change["insured_person_id"] == part
    assert (change["previous_insured"], change["insured"], change["procedure_kind"], change["due_date"],
            change["raw_due_date"]) == (False, True, "shikaku_shutoku", "2028-11-10", "2028-11-10")
    assert [x["insured_person_id"] for x in by_js["js-2"]] == [other]
    d = c.get(f"{BASE}/insured-persons/{part}/eligibility", headers=h).json()
    assert (d["insured"], d["rule_version"], d["judged_on"]) == (True, "koyo-eligibility/2028-10-01", "2028-10-01")
    unchanged = c.get(f"{BASE}/insured-persons/{full}/eligibility", headers=h).json()
    assert (unchanged["insured"], unchanged["judged_on"]) == (True, "2028-10-01")
    assert c.get(f"{BASE}/insured-persons/{student}/eligibility", headers=h).json()["insured"] is False

    # One event per change, of the contract's shape, without My Number or wage.
    events = [e for e in outbox_payloads(settings, "koyo_hoken", part) if e["type"] == CHANGED]
    assert len(events) == 1
    assert_matches_contract(events[0])
    assert events[0]["data"]["due_date"] == "2028-11-10" and events[0]["data"]["procedure_kind"] == "shikaku_shutoku"
    assert MY_NUMBER not in str(events[0]) and "98000" not in str(events[0])
    assert not [e for e in outbox_payloads(settings, "koyo_hoken", full) if e["type"] == CHANGED]

    # The deadline view (and the daily digest that reads it) now owes their 取得届 from 2028-10-01.
    due = c.get(f"{BASE}/deadlines", headers=h, params={"kind": "shikaku_shutoku"}).json()["items"]
    assert sorted((i["insured_person_id"], i["event_date"], i["due_date"]) for i in due) == sorted(
        [(full, "2025-04-01", "2025-05-12"), (part, "2028-10-01", "2028-11-10"), (other, "2028-10-01", "2028-11-10")])

    # A re-run: the same list, nothing recorded twice.
    again = c.post(f"{BASE}/eligibility/rejudgements", headers=h, json={"as_of": "2028-10-01"}).json()
    assert again["created"] == 0 and again["jigyosho"] == out["jigyosho"]
    assert len([e for e in outbox_payloads(settings, "koyo_hoken", part) if e["type"] == CHANGED]) == 1
    listed = c.get(f"{BASE}/eligibility/changes", headers=h, params={"as_of": "2028-10-01"}).json()
    assert sorted(x["insured_person_id"] for x in listed["items"]) == sorted([part, other])
    assert listed["change_dates"] == ["2028-10-01"]


def test_a_user_granted_one_jigyosho_rejudges_only_it(service_client, tokens, grants):
    c = service_client("koyo_hoken", clock=frozen(2026, 4, 3))
    tid = tenant()
    h = bearer(tokens.user(tid))
    register(c, h, "js-1", "12")
    theirs = register(c, h, "js-2", "12")
    grants.seed(tid, "js2-only", ALL_WRITE, jigyosho_all=False, jigyosho_ids=["js-2"])
    h2 = bearer(tokens.user(tid, "js2-only"))
    assert c.post(f"{BASE}/eligibility/rejudgements", headers=h2,
                  json={"as_of": "2028-10-01", "jigyosho_id": "js-1"}).status_code == 404
    out = c.post(f"{BASE}/eligibility/rejudgements", headers=h2, json={"as_of": "2028-10-01"}).json()
    assert [(g["jigyosho_id"], [x["insured_person_id"] for x in g["changes"]]) for g in out["jigyosho"]] == \
        [("js-2", [theirs])]


def test_the_scheduled_pass_rejudges_each_tenant_once_on_the_rule_change_date(service_client, tokens, settings):
    c = service_client("koyo_hoken", clock=frozen(2026, 4, 3))
    tid = tenant()
    h = bearer(tokens.user(tid))
    part = register(c, h, "js-1", "12")
    db = Database(settings.database_url("koyo_hoken"))
    try:
        def ctx(y, m, d):
            return KoyoContext(FrozenClock(datetime(y, m, d, 0, 30, tzinfo=UTC)), load_data_keys(settings.keys_dir),
                               KoyoHokenSettings())

        assert rejudge.scheduled_pass(db, ctx(2028, 9, 30), only_tenants=[tid]) == 0  # 9:30 JST on 9/30: not yet
        assert rejudge.scheduled_pass(db, ctx(2028, 10, 1), only_tenants=[tid]) == 1
        assert rejudge.scheduled_pass(db, ctx(2028, 10, 2), only_tenants=[tid]) == 0  # done once
        with db.sessions() as session:
            assert session.execute(select(func.count()).select_from(EligibilityChange).where(
                EligibilityChange.tenant_id == tid)).scalar_one() == 1
            run = session.get(RejudgementSchedule, (tid, datetime(2028, 10, 1).date()))
            assert run is not None and (run.judged, run.changes) == (1, 1)
    finally:
        db.dispose()
    events = [e for e in outbox_payloads(settings, "koyo_hoken", part) if e["type"] == CHANGED]
    assert len(events) == 1 and events[0]["actor"]["kind"] == "system"
    assert_matches_contract(events[0])


def test_a_change_of_the_hours_judges_the_person_again(service_client, tokens):
    c = service_client("koyo_hoken", clock=frozen(2026, 4, 3))
    h = bearer(tokens.user(tenant()))
    pid = register(c, h, "js-1", "12")
    assert c.post(f"{BASE}/eligibility/rejudgements", headers=h, json={"as_of": "2028-10-01"}).status_code == 200
    version = c.get(f"{BASE}/insured-persons/{pid}", headers=h).json()["version"]
    r = c.patch(f"{BASE}/insured-persons/{pid}", headers={**h, "If-Match": f'"{version}"'},
                json={"weekly_hours": "25"})
    assert r.status_code == 200, r.text
    d = c.get(f"{BASE}/insured-persons/{pid}/eligibility", headers=h).json()
    # Today's facts replace the later date's decision judged on the old ones.
    assert (d["insured"], d["reason_code"], d["judged_on"], d["rule_version"]) == \
        (True, "insured", "2026-04-03", "koyo-eligibility/2022-01-01")
