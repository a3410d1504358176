"""The 年度更新 run persisted: results, ledger entries (append-only, corrections by reversal),
events; arrears and dunning, due notices, the 報奨金 estimate from the ledger."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from tests.services.support import assert_matches_contract, outbox_payloads

B7_WAGES = {"rousai_wages": 12_345_678, "koyo_wages": 11_800_500, "paid_estimate": 200_000}


def member_with_wages(api, wages=None, **over):
    m = api.member(**over)
    api.call("PUT", f"/members/{m['id']}/wages/2024", 201, json={**B7_WAGES, **(wages or {})})
    return m


def ledger(api, member_id, **params):
    return api.get(f"/members/{member_id}/ledger", params=params)


def test_run_persists_the_b8_example_with_ledger_rows_and_events(api, settings):
    m = member_with_wages(api)
    no_wages = api.member()
    run = api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    assert run["computed"] == 1 and run["already_renewed"] == 0
    assert run["skipped"] == [{"member_id": no_wages["id"], "reason": "no wages of the past year"}]
    r = api.get(f"/members/{m['id']}/renewals/2025")
    assert r["confirmed"]["total"] == 219_935 and r["general_contribution"] == 246
    assert [(i["amount_due"], i["due_on"]) for i in r["plan"]["installments"]] == [
        (89_560, "2025-07-10"), (69_378, "2025-11-14"), (69_378, "2026-02-16")]
    rows = ledger(api, m["id"])["entries"]
    assert {(e["fiscal_year"], e["kind"], e["period"], e["amount"], e["due_on"]) for e in rows} == {
        (2024, "confirmed", None, 219_935, None), (2024, "shortage", 1, 19_935, "2025-07-10"),
        (2024, "general_contribution", 1, 246, "2025-07-10"),
        (2025, "estimate", 1, 69_379, "2025-07-10"), (2025, "estimate", 2, 69_378, "2025-11-14"),
        (2025, "estimate", 3, 69_378, "2026-02-16")}
    r_id = _renewal_id(settings, m["id"])
    [event] = outbox_payloads(settings, "jimukumiai", r_id)
    assert event["type"] == "roumu.jimukumiai.renewal.computed" and event["subject"]["renewal_id"] == r_id
    assert event["data"]["installments"][0] == {"number": 1, "amount_due": 89_560, "due_on": "2025-07-10"}
    assert_matches_contract(event)
    # Running again leaves the renewed member alone.
    again = api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    assert (again["computed"], again["already_renewed"], len(again["skipped"])) == (0, 1, 1)
    assert api.get(f"/renewal-runs/{run['id']}")["computed"] == 1


def _renewal_id(settings, member_id):
    engine = create_engine(settings.database_url("jimukumiai"))
    with engine.connect() as conn:
        rid = conn.execute(text("SELECT id FROM renewals WHERE member_id = :m"), {"m": member_id}).scalar_one()
    engine.dispose()
    return rid


def test_run_settlements_special_enrolment_and_a_june_business(api):
    apply = member_with_wages(api, {"paid_estimate": 300_000})
    refund = member_with_wages(api, {"paid_estimate": 300_000, "excess_use": "refund"})
    high = member_with_wages(api, {"estimated_rousai_wages": 24_691_000, "estimated_koyo_wages": 23_601_999})
    special = member_with_wages(api)
    api.post(f"/members/{special['id']}/special-enrolments",
             {"person_name": "山田一郎", "role": "owner", "daily_amount": 10_000, "joined_on": "2025-09-20"}, 201)
    june = member_with_wages(api, {"rousai_wages": 0, "koyo_wages": 0, "paid_estimate": None,
                                   "estimated_rousai_wages": 6_000_500, "estimated_koyo_wages": 5_000_999},
                             established_on="2025-06-16", entrusted_from="2025-06-16")
    run = api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    assert run["computed"] == 5 and run["skipped"] == []

    r = api.get(f"/members/{apply['id']}/renewals/2025")
    assert r["settlement"]["applied_to_premium"] == 80_065 and r["refund_claim"] is None
    assert [i["amount_due"] for i in r["plan"]["installments"]] == [246, 58_692, 69_378]
    kinds = {(e["kind"], e["amount"]) for e in ledger(api, apply["id"], fiscal_year=2024)["entries"]}
    assert ("appropriated", 80_065) in kinds and not any(k == "shortage" for k, _ in kinds)
    assert sorted(e["amount"] for e in ledger(api, apply["id"], fiscal_year=2025)["entries"]) == [58_692, 69_378]

    r = api.get(f"/members/{refund['id']}/renewals/2025")
    assert r["refund_claim"]["amount"] == 80_065 and r["refund_claim"]["file_by"] == "2025-07-10"
    assert ("refund_claimed", 80_065) in {(e["kind"], e["amount"]) for e in ledger(api, refund["id"])["entries"]}

    r = api.get(f"/members/{high['id']}/renewals/2025")
    assert r["estimate"]["total"] == 416_287 and r["estimate"]["rousai_base_source"] == "estimate"

    r = api.get(f"/members/{special['id']}/renewals/2025")
    assert r["estimate"]["special_premium"] == 6_387 and r["estimate"]["total"] == 208_135 + 6_387

    r = api.get(f"/members/{june['id']}/renewals/2025")
    assert r["confirmed"] is None
    assert [(i["amount_due"], i["due_on"]) for i in r["plan"]["installments"]] == [(45_250, "2025-08-05"),
                                                                                   (45_250, "2026-02-16")]


def test_ledger_collections_arrears_and_corrections(api, settings):
    m = member_with_wages(api)
    api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    first = api.post(f"/members/{m['id']}/ledger", {"kind": "collected", "fiscal_year": 2025, "period": 1,
                                                    "amount": 89_560, "occurred_on": "2025-07-08"}, 201)
    api.post(f"/members/{m['id']}/ledger", {"kind": "paid_to_state", "fiscal_year": 2025, "period": 1,
                                            "amount": 89_560, "occurred_on": "2025-07-10"}, 201)
    assert api.get("/arrears", params={"as_of": "2025-11-13"})["total"] == 0
    due = api.get("/arrears", params={"as_of": "2025-11-17"})
    [row] = due["items"]
    assert (row["member_id"], row["amount"], row["oldest_due_on"]) == (m["id"], 69_378, "2025-11-14")
    # A wrong entry, then its correction: the original stays, a reversal is added.
    wrong = api.post(f"/members/{m['id']}/ledger", {"kind": "collected", "fiscal_year": 2025, "period": 2,
                                                    "amount": 69_000, "occurred_on": "2025-11-10"}, 201)
    assert api.get("/arrears", params={"as_of": "2025-11-17"})["total"] == 378
    rev = api.post(f"/ledger/{wrong['id']}/reverse", {"note": "誤記帳", "occurred_on": "2025-11-11"}, 201)
    assert (rev["amount"], rev["kind"], rev["reverses_id"]) == (-69_000, "collected", wrong["id"])
    api.post(f"/ledger/{wrong['id']}/reverse", {}, 409)
    api.post(f"/ledger/{rev['id']}/reverse", {}, 409)
    entries = ledger(api, m["id"], fiscal_year=2025)["entries"]
    assert [e["id"] for e in entries if e["id"] == wrong["id"]] == [wrong["id"]]  # still there, unchanged
    assert next(e for e in entries if e["id"] == wrong["id"])["amount"] == 69_000
    assert api.get("/arrears", params={"as_of": "2025-11-17"})["total"] == 69_378
    for e in outbox_payloads(settings, "jimukumiai", rev["id"]) + outbox_payloads(settings, "jimukumiai", first["id"]):
        assert_matches_contract(e)
    # The table itself refuses an edit.
    engine = create_engine(settings.database_url("jimukumiai"))
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET amount = 1 WHERE id = :i"), {"i": wrong["id"]})
    engine.dispose()


def test_due_notices_once_per_entry(api, settings):
    m = member_with_wages(api)
    api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    api.post(f"/members/{m['id']}/ledger", {"kind": "collected", "fiscal_year": 2025, "amount": 89_560,
                                            "occurred_on": "2025-07-08"}, 201)
    assert api.post("/installment-notices", {"as_of": "2025-11-01", "horizon_days": 14}) == {"published": 1}
    assert api.post("/installment-notices", {"as_of": "2025-11-01", "horizon_days": 14}) == {"published": 0}
    entry = next(e for e in ledger(api, m["id"])["entries"] if e["period"] == 2 and e["kind"] == "estimate")
    [event] = outbox_payloads(settings, "jimukumiai", entry["id"])
    assert event["type"] == "roumu.jimukumiai.installment.due" and event["data"]["due_on"] == "2025-11-14"
    assert event["data"]["amount"] == 69_378
    assert_matches_contract(event)


def test_reward_estimate_from_the_ledger(api):
    m = member_with_wages(api)
    api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    for amount, day in ((200_000, "2024-07-10"), (19_935 + 246, "2025-07-09")):
        api.post(f"/members/{m['id']}/ledger", {"kind": "collected", "fiscal_year": 2024, "amount": amount,
                                                "occurred_on": day}, 201)
    e = api.get("/reward-estimate", params={"fiscal_year": 2025})
    assert (e["counted_members"], e["confirmed_due"], e["paid"], e["qualifies"]) == (1, 219_935, 219_935, True)
    assert (e["premium_part"], e["per_business_part"], e["amount"]) == (4_398, 6_200, 10_598)


def test_increase_estimate_is_judged_against_the_filed_estimate_and_booked_when_due(api, settings):
    """The B7 member's R7 概算 (bases 12,345,000 / 11,800,000, 208,135 円) then an estimate of 30,000,000
    for both: more than 200 % of each base, and 30,000,000 × 17.5/1000 = 525,000 − 208,135 = 316,865 円
    ≥ 130,000 → due within 30 days from the day after 2025-09-05: 10/5 is a Sunday → 10/6."""
    m = member_with_wages(api)
    path = f"/members/{m['id']}/increase-estimates"
    api.post(path, {"fiscal_year": 2025, "new_koyo_wages": 30_000_000, "expected_on": "2025-09-05"}, 409)  # no 概算 yet
    api.post("/renewal-runs", {"fiscal_year": 2025}, 201)

    # Below 200 % of the base: judged, nothing written.
    low = api.post(path, {"fiscal_year": 2025, "new_koyo_wages": 23_600_999, "expected_on": "2025-09-05"})
    assert low["computed"]["due"] is False and low["computed"]["ratio_exceeded"] is False
    assert low["ledger_entry_id"] is None
    assert not [e for e in ledger(api, m["id"])["entries"] if e["kind"] == "increase_estimate"]

    due = api.post(path, {"fiscal_year": 2025, "new_rousai_wages": 30_000_999, "new_koyo_wages": 30_000_000,
                          "expected_on": "2025-09-05"})
    c = due["computed"]
    assert (c["due"], c["filed_estimate"], c["new_estimate"]["total"], c["increase"], c["deadline"]) == (
        True, 208_135, 525_000, 316_865, "2025-10-06")
    [entry] = [e for e in ledger(api, m["id"], fiscal_year=2025)["entries"] if e["kind"] == "increase_estimate"]
    assert (entry["id"], entry["amount"], entry["due_on"], entry["period"]) == (
        due["ledger_entry_id"], 316_865, "2025-10-06", None)
    [event] = [e for e in outbox_payloads(settings, "jimukumiai", m["id"])
               if e["type"] == "roumu.jimukumiai.increase_estimate.booked"]
    assert event["data"]["increase"] == 316_865 and event["subject"]["ledger_entry_id"] == entry["id"]
    assert_matches_contract(event)

    # Owed like any 期: in the arrears after its day, not before.
    def owed(as_of):
        return [i for row in api.get("/arrears", params={"as_of": as_of})["items"] for i in row["items"]
                if i["entry_id"] == entry["id"]]
    assert owed("2025-10-03") == [] and owed("2025-10-07")[0]["amount"] == 316_865

    # A second one in the year is refused until the first is reversed.
    api.post(path, {"fiscal_year": 2025, "new_koyo_wages": 40_000_000, "expected_on": "2025-12-01"}, 409)
    api.post(f"/ledger/{entry['id']}/reverse", {"note": "見込み誤り"}, 201)
    again = api.post(path, {"fiscal_year": 2025, "new_koyo_wages": 40_000_000, "expected_on": "2025-12-01"})
    assert again["ledger_entry_id"] not in (None, entry["id"])


def _unfinished_run(settings, tenant, beat):
    import uuid
    from datetime import UTC, datetime, timedelta

    run_id = str(uuid.uuid4())
    at = datetime.now(UTC) - timedelta(seconds=beat)
    engine = create_engine(settings.database_url("jimukumiai"))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO renewal_runs (id, tenant_id, fiscal_year, started_at, finished_at, computed, "
                          "already_renewed, skipped, actor_id, heartbeat_at) VALUES (:i, :t, 2025, :a, NULL, 0, 0, "
                          "'[]', 'u-1', :a)"), {"i": run_id, "t": tenant, "a": at})
    engine.dispose()
    return run_id


def test_a_running_run_of_the_year_refuses_a_second_and_a_dead_one_is_taken_over(api, settings):
    m = member_with_wages(api)
    running = _unfinished_run(settings, api.tenant, beat=5)
    r = api.post("/renewal-runs", {"fiscal_year": 2025}, 409)
    assert r["type"].endswith("/renewal-run-in-progress") and r["run_id"] == running
    assert api.post("/renewal-runs", {"fiscal_year": 2024}, 201)["computed"] == 0  # another year is free
    # A run silent for longer than ROUMU_JIMUKUMIAI_RENEWAL_RUN_STALE_SECONDS (900) died: closed, not waited for.
    engine = create_engine(settings.database_url("jimukumiai"))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM renewal_runs WHERE id = :i"), {"i": running})
    engine.dispose()
    dead = _unfinished_run(settings, api.tenant, beat=3600)
    run = api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    assert run["computed"] == 1 and run["finished_at"]
    assert api.get(f"/renewal-runs/{dead}")["finished_at"] is not None
    assert api.get(f"/members/{m['id']}/renewals/2025")["fiscal_year"] == 2025
