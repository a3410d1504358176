"""Issue 25: the 社労士 office's own client employers (outside the 事務組合) get the same stored
年度更新 run, results, ledger and installment schedule as the association's 委託事業主, with a
client's rules — 延納 only from 400,000 円, due 7/10, 10/31, 1/31 moved to business days — and
the two runs never touch each other's members; nor another tenant's.

Oracles: DOMAIN.md B7's worked example (an individually insured business: 208,135 < 400,000, no
延納, 228,316 円 by 7/10/2025) beside B8's (the same business entrusted: 89,560 / 69,378 by 11/14
/ 69,378 by 2026-02-16); for FY2026 the weekdays come from Python's own calendar (2026-10-31 a
Saturday, 2027-01-31 a Sunday — DOMAIN.md appendix §6 lists both) and the amounts are the B7
formulas worked by hand below."""

import csv
import io
import uuid
from datetime import date

from sqlalchemy import create_engine, text

from tests.conftest import bearer
from tests.jimukumiai.conftest import JIGYOSHO, Api, member_body
from tests.services.support import assert_matches_contract, outbox_payloads

B7_WAGES = {"rousai_wages": 12_345_678, "koyo_wages": 11_800_500, "paid_estimate": 200_000}
# FY2025 wages of a larger client, 労災 94 (3/1000) and 一般 on one base of 30,000,000:
#   確定 FY2025 = 30,000,000 × (3 + 14.5)/1000 = 525,000; paid 500,000 → 不足額 25,000
#   一般拠出金 = 30,000,000 × 0.02/1000 = 600
#   概算 FY2026 = 30,000,000 × (3 + 13.5)/1000 = 495,000 ≥ 400,000 → 延納: 165,000 × 3
#   1st = 165,000 + 25,000 + 600 = 190,600 by 2026-07-10 (a Friday)
BIG_WAGES = {"rousai_wages": 30_000_000, "koyo_wages": 30_000_000, "paid_estimate": 500_000}


def client_body(**over):
    body = member_body()
    body["client_from"] = body.pop("entrusted_from")
    for k in ("regular_workers", "main_business"):
        body.pop(k)
    return {**body, **over}


def client(api: Api, wages_year: int | None = None, wages=None, **over):
    c = api.post("/clients", client_body(**over), 201)
    if wages_year is not None:
        api.call("PUT", f"/members/{c['id']}/wages/{wages_year}", 201, json=wages)
    return c


def member(api: Api, wages_year: int, wages, **over):
    m = api.member(**over)
    api.call("PUT", f"/members/{m['id']}/wages/{wages_year}", 201, json=wages)
    return m


def plan(api: Api, member_id: str, fy: int):
    r = api.get(f"/members/{member_id}/renewals/{fy}")
    return r, [(i["amount_due"], i["due_on"]) for i in r["plan"]["installments"]]


def renewal_ids(settings, member_id):
    engine = create_engine(settings.database_url("jimukumiai"))
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM renewals WHERE member_id = :m"), {"m": member_id}).scalars().all()
    engine.dispose()
    return ids


def other_tenant(service_client, tokens, clock, jigyosho) -> Api:
    tenant = str(uuid.uuid4())
    jigyosho.open(tenant, *JIGYOSHO, services=("jimukumiai",))
    c = service_client("jimukumiai", clock=clock)
    return Api(c, bearer(tokens.user(tenant, roles=("tenant_admin",))), tenant, clock, jigyosho)


def test_a_client_is_registered_and_listed_apart_from_the_members(api, settings):
    c = client(api, name="株式会社顧問先")
    assert c["kind"] == "client" and c["entrusted_from"] == "2020-04-01" and c["main_business"] is None
    [event] = outbox_payloads(settings, "jimukumiai", c["id"])
    assert event["type"] == "roumu.jimukumiai.client.registered" and event["data"]["client_from"] == "2020-04-01"
    assert_matches_contract(event)
    m = api.member()
    assert [x["id"] for x in api.get("/clients")["items"]] == [c["id"]]
    assert [x["id"] for x in api.get("/members")["items"]] == [m["id"]]
    # No size limit for a client (則62条2項 limits only who may entrust an association) …
    big = client(api, regular_workers=5000)
    assert big["regular_workers"] == 5000
    # … but one 労働保険番号 once per tenant, whatever the kind; and an insurance is required.
    r = api.post("/clients", client_body(labour_insurance_number=m["labour_insurance_number"]), 409)
    assert r["type"].endswith("/labour-insurance-number-taken")
    r = api.post("/clients", client_body(rousai_code=None, koyo_kubun=None), 422)
    assert r["type"].endswith("/validation") and "rousai_code" in str(r["errors"])
    r = api.post("/clients", client_body(client_from="2025-04-01", client_until="2025-03-31"), 422)
    assert "client_until" in str(r["errors"])
    api.post("/clients", client_body(jigyosho_id="js-unknown"), 404)
    # 第1種特別加入 goes through an association: refused for a client.
    r = api.post(f"/members/{c['id']}/special-enrolments",
                 {"person_name": "顧問太郎", "role": "owner", "daily_amount": 10_000, "joined_on": "2024-04-01"}, 409)
    assert r["type"].endswith("/not-entrusted")
    # The office stops serving it: client.left (not the association's member.left).
    api.post(f"/members/{big['id']}/leave", {"entrusted_until": "2025-03-31"})
    [_, event] = outbox_payloads(settings, "jimukumiai", big["id"])
    assert (event["type"], event["data"]["client_until"]) == ("roumu.jimukumiai.client.left", "2025-03-31")
    assert_matches_contract(event)


def test_the_b7_business_as_a_client_gets_no_ennou_and_as_a_member_gets_three(api, settings):
    """The same figures (DOMAIN.md B7) once as the office's client and once as a 委託事業主."""
    c = client(api, 2024, B7_WAGES)
    m = member(api, 2024, B7_WAGES)
    run = api.post("/client-renewal-runs", {"fiscal_year": 2025}, 201)
    assert (run["kind"], run["computed"], run["already_renewed"], run["skipped"]) == ("client", 1, 0, [])
    r, installments = plan(api, c["id"], 2025)
    assert r["estimate"]["total"] == 208_135 and r["confirmed"]["total"] == 219_935
    assert r["plan"]["allowed"] is False  # 208,135 < 400,000 (徴収則27条1項)
    assert installments == [(228_316, "2025-07-10")]  # 208,135 + 19,935 + 246, by 7/10 (a Thursday)
    # The client run did not touch the member: no renewal of it yet.
    api.get(f"/members/{m['id']}/renewals/2025", 404)
    run = api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    assert (run["kind"], run["computed"], run["already_renewed"]) == ("entrusted", 1, 0)
    _, installments = plan(api, m["id"], 2025)
    assert installments == [(89_560, "2025-07-10"), (69_378, "2025-11-14"), (69_378, "2026-02-16")]
    # Each run again: its own member already renewed, the other's never counted.
    again = api.post("/client-renewal-runs", {"fiscal_year": 2025}, 201)
    assert (again["computed"], again["already_renewed"], again["skipped"]) == (0, 1, [])
    again = api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    assert (again["computed"], again["already_renewed"], again["skipped"]) == (0, 1, [])
    # The client's ledger: one payment, everything due 7/10.
    rows = api.get(f"/members/{c['id']}/ledger")["entries"]
    assert {(e["fiscal_year"], e["kind"], e["period"], e["amount"], e["due_on"]) for e in rows} == {
        (2024, "confirmed", None, 219_935, None), (2024, "shortage", 1, 19_935, "2025-07-10"),
        (2024, "general_contribution", 1, 246, "2025-07-10"), (2025, "estimate", 1, 208_135, "2025-07-10")}
    [event] = outbox_payloads(settings, "jimukumiai", renewal_ids(settings, c["id"])[0])
    assert event["type"] == "roumu.jimukumiai.renewal.computed" and event["data"]["member_kind"] == "client"
    assert event["data"]["installments"] == [{"number": 1, "amount_due": 228_316, "due_on": "2025-07-10"}]
    assert_matches_contract(event)
    [event] = outbox_payloads(settings, "jimukumiai", renewal_ids(settings, m["id"])[0])
    assert event["data"]["member_kind"] == "entrusted"
    assert_matches_contract(event)
    # The association's books and dunning know nothing of the client.
    assert api.get("/arrears", params={"as_of": "2025-07-31"})["items"][0]["member_id"] == m["id"]
    assert len(api.get("/arrears", params={"as_of": "2025-07-31"})["items"]) == 1
    # Due notices: the member's three amounts due by 7/10 (不足額, 一般拠出金, 第1期), none of the client's.
    assert api.post("/installment-notices", {"as_of": "2025-07-01", "horizon_days": 30}) == {"published": 3}
    register = api.call("GET", "/books/member-register.csv", params={"from": "2025-04-01", "to": "2026-03-31"}).text
    assert m["labour_insurance_number"] in register and c["labour_insurance_number"] not in register
    ledger = api.call("GET", "/books/premium-ledger.csv", params={"from": "2025-04-01", "to": "2026-03-31"}).text
    assert m["labour_insurance_number"] in ledger and c["labour_insurance_number"] not in ledger


def test_fy2026_client_installments_fall_due_on_business_days(api):
    """10/31/2026 is a Saturday and 1/31/2027 a Sunday: the client's 2nd and 3rd installments move
    to Monday 11/2 and Monday 2/1 (by practice, the default); 7/10/2026 is a Friday and stays."""
    assert date(2026, 10, 31).weekday() == 5 and date(2027, 1, 31).weekday() == 6
    assert date(2026, 7, 10).weekday() == 4
    assert date(2026, 11, 2).weekday() == 0 and date(2027, 2, 1).weekday() == 0
    c = client(api, 2025, BIG_WAGES)
    small = client(api, 2025, {**B7_WAGES, "paid_estimate": 219_935})
    run = api.post("/client-renewal-runs", {"fiscal_year": 2026}, 201)
    assert (run["computed"], run["skipped"]) == (2, [])
    r, installments = plan(api, c["id"], 2026)
    assert r["confirmed"]["total"] == 525_000 and r["estimate"]["total"] == 495_000
    assert r["general_contribution"] == 600 and r["settlement"]["shortage"] == 25_000
    assert r["plan"]["allowed"] is True
    assert installments == [(190_600, "2026-07-10"), (165_000, "2026-11-02"), (165_000, "2027-02-01")]
    assert [i["raw_due_on"] for i in r["plan"]["installments"]] == ["2026-07-10", "2026-10-31", "2027-01-31"]
    # Under 400,000 in the same year: one payment by 7/10 (確定 FY2025 at 14.5 + 3 = 17.5‰ on the two
    # bases: 12,345,000 × 3‰ = 37,035 and 11,800,000 × 14.5‰ = 171,100 → 208,135; paid 219,935 →
    # 超過 11,800 充当 to the 概算 37,035 + 11,800,000 × 13.5‰ (159,300) = 196,335).
    r, installments = plan(api, small["id"], 2026)
    assert r["estimate"]["total"] == 196_335 and r["plan"]["allowed"] is False
    assert r["settlement"]["excess"] == 11_800 and r["settlement"]["applied_to_premium"] == 11_800
    assert installments == [(196_335 - 11_800 + 246, "2026-07-10")]
    # The results export (CSV, UTF-8 with BOM): one line per client with the 申告書 figures.
    resp = api.call("GET", "/renewals/2026/results.csv", params={"kind": "client"})
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    by = {row["労働保険番号"]: row for row in rows}
    assert set(by) == {c["labour_insurance_number"], small["labour_insurance_number"]}
    big = by[c["labour_insurance_number"]]
    assert (big["区分"], big["確定保険料"], big["一般拠出金"], big["概算保険料"], big["延納"]) == (
        "顧問先 (事務組合外)", "525000", "600", "495000", "有")
    assert (big["第1期 納付額"], big["第2期 納期限"], big["第3期 納期限"]) == ("190600", "2026-11-02", "2027-02-01")
    assert (big["確定 労災保険 算定基礎額"], big["概算 雇用保険率(‰)"]) == ("30000000", "13.5")
    one = by[small["labour_insurance_number"]]
    assert (one["延納"], one["第1期 納付額"], one["第2期 納付額"], one["申告・納付期限"]) == (
        "無", str(196_335 - 11_800 + 246), "", "2026-07-10")
    # The same as JSON, a page at a time.
    page = api.get("/renewals/2026", params={"limit": 1})
    assert (page["total"], len(page["items"])) == (2, 1)
    rest = api.get("/renewals/2026", params={"limit": 1, "offset": 1})["items"]
    results = {i["member_id"]: i for i in page["items"] + rest}
    assert results[c["id"]]["result"]["plan"]["installments"][1]["due_on"] == "2026-11-02"
    assert results[small["id"]]["kind"] == "client" and results[small["id"]]["result"]["plan"]["allowed"] is False
    assert api.get("/renewals/2026", params={"kind": "entrusted"})["total"] == 0
    # One employer's line (its 申告書 控え data).
    only = api.call("GET", "/renewals/2026/results.csv", params={"member_id": small["id"]}).content.decode("utf-8-sig")
    assert [r["委託事業主ID"] for r in csv.DictReader(io.StringIO(only))] == [small["id"]]
    api.call("GET", "/renewals/2026/results.csv", 404, params={"member_id": str(uuid.uuid4())})
    assert api.call("GET", "/renewals/2026/results.csv", params={"kind": "entrusted"}).content.decode(
        "utf-8-sig").count("\r\n") == 1  # the header only: no member was renewed
    api.call("GET", "/renewals/2026/results.csv", 422, params={"kind": "everyone"})


def _unfinished_run(settings, tenant, kind):
    from datetime import UTC, datetime

    run_id = str(uuid.uuid4())
    at = datetime.now(UTC)
    engine = create_engine(settings.database_url("jimukumiai"))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO renewal_runs (id, tenant_id, fiscal_year, kind, started_at, finished_at, "
                          "computed, already_renewed, skipped, actor_id, heartbeat_at) VALUES (:i, :t, 2025, :k, "
                          ":a, NULL, 0, 0, '[]', 'u-1', :a)"), {"i": run_id, "t": tenant, "k": kind, "a": at})
    engine.dispose()
    return run_id


def test_the_two_runs_of_a_year_neither_wait_on_nor_block_each_other(api, settings):
    c = client(api, 2024, B7_WAGES)
    running = _unfinished_run(settings, api.tenant, "entrusted")  # the association's run is under way
    run = api.post("/client-renewal-runs", {"fiscal_year": 2025}, 201)
    assert run["computed"] == 1 and api.get(f"/members/{c['id']}/renewals/2025")["fiscal_year"] == 2025
    r = api.post("/renewal-runs", {"fiscal_year": 2025}, 409)
    assert r["run_id"] == running
    busy = _unfinished_run(settings, api.tenant, "client")
    r = api.post("/client-renewal-runs", {"fiscal_year": 2025}, 409)
    assert r["type"].endswith("/renewal-run-in-progress") and r["run_id"] == busy


def test_tenants_are_isolated(api, settings, service_client, tokens, clock, jigyosho):
    mine = client(api, 2024, B7_WAGES)
    other = other_tenant(service_client, tokens, clock, jigyosho)
    theirs = client(other, 2024, {**B7_WAGES, "paid_estimate": 100_000})
    # The same 労働保険番号 may be a client of two tenants (two offices); each tenant's run is its own.
    same = other.post("/clients", client_body(labour_insurance_number=mine["labour_insurance_number"]), 201)
    assert api.post("/client-renewal-runs", {"fiscal_year": 2025}, 201)["computed"] == 1
    other.get(f"/members/{theirs['id']}/renewals/2025", 404)  # untouched by the first tenant's run
    api.get(f"/members/{theirs['id']}/renewals/2025", 404)  # and invisible to it
    api.get(f"/members/{theirs['id']}/ledger", 404)
    assert [x["id"] for x in other.get("/clients")["items"]] == [theirs["id"], same["id"]]
    run = other.post("/client-renewal-runs", {"fiscal_year": 2025}, 201)
    assert (run["computed"], [s["member_id"] for s in run["skipped"]]) == (1, [same["id"]])
    other.get(f"/renewal-runs/{run['id']}")
    api.get(f"/renewal-runs/{run['id']}", 404)
    api.call("GET", "/renewals/2025/results.csv", 404, params={"member_id": theirs["id"]})
    assert [i["member_id"] for i in api.get("/renewals/2025")["items"]] == [mine["id"]]
    text_ = api.call("GET", "/renewals/2025/results.csv").content.decode("utf-8-sig")
    assert mine["id"] in text_ and theirs["id"] not in text_ and same["id"] not in text_
    assert api.get(f"/members/{mine['id']}/renewals/2025")["settlement"]["shortage"] == 19_935
    assert other.get(f"/members/{theirs['id']}/renewals/2025")["settlement"]["shortage"] == 119_935
