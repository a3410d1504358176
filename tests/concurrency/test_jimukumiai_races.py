"""Races on the 事務組合's money (issue 29 items 3, 5, 8): the same write sent N times at once must
leave the ledger, the wage reports and the 年度更新 runs as one write would, and every loser gets a
clean answer (409/412 problem+json, or the answer a repeat gets), never a 500."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from shared.settings import CommonSettings
from tests.concurrency.harness import check, covers, fire, no_server_errors, statuses
from tests.jimukumiai.conftest import BASE, Api, api, clock, jigyosho  # noqa: F401 - fixtures
from tests.services.support import outbox_payloads

J = "/api/v1/jimukumiai"
B7_WAGES = {"rousai_wages": 12_345_678, "koyo_wages": 11_800_500, "paid_estimate": 200_000}


def _rows(settings: CommonSettings, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(settings.database_url("jimukumiai"))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def _renewed_member(api: Api) -> dict[str, Any]:  # noqa: F811
    m = api.member()
    api.call("PUT", f"/members/{m['id']}/wages/2024", 201, json=B7_WAGES)
    api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    return m


def _post(api: Api, path: str, body: Any, headers: dict[str, str] | None = None):  # noqa: F811
    return lambda _i: api.call("POST", path, None, json=body, headers=headers or {})


@covers(f"POST {J}/members/{{member_id}}/increase-estimates")
def test_an_increase_estimate_sent_ten_times_at_once_is_booked_once(api: Api, settings: CommonSettings) -> None:  # noqa: F811
    m = _renewed_member(api)
    body = {"fiscal_year": 2025, "new_rousai_wages": 30_000_999, "new_koyo_wages": 30_000_000,
            "expected_on": "2025-09-05"}
    out = fire(10, _post(api, f"/members/{m['id']}/increase-estimates", body))
    no_server_errors(out)
    booked = _rows(settings, "SELECT id, amount FROM ledger_entries WHERE member_id = :m AND kind = :k",
                   m=m["id"], k="increase_estimate")
    check(len(booked) == 1, f"{len(booked)} 増加概算 entries for one member and year: {booked}")
    check(statuses(out) == [200] + [409] * 9, f"answers {statuses(out)}")
    [winner] = [o.response.json() for o in out if o.status == 200]  # type: ignore[union-attr]
    check(winner["ledger_entry_id"] == booked[0].id, "the 200 names the one entry")
    check(all(o.response.json()["type"].endswith("/increase-already-booked")  # type: ignore[union-attr]
              for o in out if o.status == 409), "the losers get the answer a repeat gets")
    events = [e for e in outbox_payloads(settings, "jimukumiai", m["id"])
              if e["type"] == "roumu.jimukumiai.increase_estimate.booked"]
    check(len(events) == 1, f"{len(events)} booked events")


@covers(f"POST {J}/ledger/{{entry_id}}/reverse")
def test_one_entry_reversed_ten_times_at_once_is_reversed_once(api: Api, settings: CommonSettings) -> None:  # noqa: F811
    m = api.member()
    entry = api.post(f"/members/{m['id']}/ledger", {"kind": "collected", "fiscal_year": 2025, "amount": 69_000,
                                                    "occurred_on": "2025-11-10"}, 201)
    out = fire(10, _post(api, f"/ledger/{entry['id']}/reverse", {"note": "誤記帳"}))
    no_server_errors(out)
    reversals = _rows(settings, "SELECT id FROM ledger_entries WHERE reverses_id = :e", e=entry["id"])
    check(len(reversals) == 1, f"{len(reversals)} reversals of one entry")
    check(statuses(out) == [201] + [409] * 9, f"answers {statuses(out)}")
    check(all(o.response.json()["type"].endswith("/already-reversed")  # type: ignore[union-attr]
              for o in out if o.status == 409), "the losers get the answer a repeat gets")


@covers(f"POST {J}/installment-notices")
def test_installment_notices_run_five_times_at_once_notify_each_entry_once(api: Api, settings: CommonSettings  # noqa: F811
                                                                            ) -> None:
    members = [api.member() for _ in range(4)]
    for m in members:
        api.call("PUT", f"/members/{m['id']}/wages/2024", 201, json=B7_WAGES)
    api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    out = fire(8, _post(api, "/installment-notices", {"as_of": "2025-06-01", "horizon_days": 120}))
    no_server_errors(out)
    check(statuses(out) == [200] * 8, f"answers {statuses(out)}")
    published = sum(o.response.json()["published"] for o in out)  # type: ignore[union-attr]
    owed = _rows(settings, "SELECT id FROM ledger_entries WHERE tenant_id = :t AND due_on BETWEEN :a AND :b",
                 t=api.tenant, a=date(2025, 6, 1), b=date(2025, 6, 1) + timedelta(days=120))
    notices = _rows(settings, "SELECT entry_id FROM due_notices WHERE tenant_id = :t", t=api.tenant)
    check(len(notices) == len(owed) > 0, f"{len(notices)} notices for {len(owed)} owed entries")
    check(published == len(owed), f"published {published} for {len(owed)} entries")
    events = [e for o in owed for e in outbox_payloads(settings, "jimukumiai", o.id)
              if e["type"] == "roumu.jimukumiai.installment.due"]
    check(len(events) == len(owed), f"{len(events)} installment.due events for {len(owed)} entries")


@covers(f"POST {J}/renewal-runs")
def test_renewal_runs_of_one_year_at_once_run_one_at_a_time(api: Api, settings: CommonSettings) -> None:  # noqa: F811
    members = [api.member() for _ in range(3)]
    for m in members:
        api.call("PUT", f"/members/{m['id']}/wages/2024", 201, json=B7_WAGES)
    out = fire(5, _post(api, "/renewal-runs", {"fiscal_year": 2025}))
    no_server_errors(out)
    check(set(statuses(out)) <= {201, 409} and 201 in statuses(out), f"answers {statuses(out)}")
    runs = _rows(settings, "SELECT id, finished_at, computed FROM renewal_runs WHERE tenant_id = :t", t=api.tenant)
    check(all(r.finished_at is not None for r in runs), f"runs left unfinished: {runs}")
    check(sum(r.computed for r in runs) == len(members), f"members computed {[r.computed for r in runs]}")
    run_ids = {r.id for r in runs}
    for o in out:
        if o.status == 409:
            body = o.response.json()  # type: ignore[union-attr]
            check(body["type"].endswith("/renewal-run-in-progress") and body["run_id"] in run_ids,
                  f"a 409 names the running run: {body}")
    renewals = _rows(settings, "SELECT member_id FROM renewals WHERE tenant_id = :t", t=api.tenant)
    check(sorted(r.member_id for r in renewals) == sorted(m["id"] for m in members), "one renewal per member")
    estimates = _rows(settings, "SELECT count(*) AS n FROM ledger_entries WHERE tenant_id = :t AND kind = 'estimate'",
                      t=api.tenant)
    check(estimates[0].n == 3 * len(members), f"{estimates[0].n} estimate entries")


@covers(f"PUT {J}/members/{{member_id}}/wages/{{fiscal_year}}")
def test_concurrent_wage_writers_with_one_etag_lose_no_update(api: Api, settings: CommonSettings) -> None:  # noqa: F811
    m = api.member()
    path = f"/members/{m['id']}/wages/2024"
    # The first report of a year, sent 8 times at once without a precondition: one creates it, the
    # others get what a repeat gets (it exists now: replacing it needs If-Match).
    first = fire(8, lambda i: api.call("PUT", path, None, json={**B7_WAGES, "koyo_wages": 1_000 + i}))
    no_server_errors(first)
    check(statuses(first) == [201] + [428] * 7, f"first report answers {statuses(first)} (losers: as a repeat)")
    got = api.call("GET", path)
    etag = got.headers.get("ETag")
    check(etag == '"1"', f"GET answers the version as ETag: {etag}")
    # Four writers with the same ETag: one wins, the others are told the row changed.
    out = fire(4, lambda i: api.call("PUT", path, None, json={**B7_WAGES, "koyo_wages": 2_000 + i},
                                     headers={"If-Match": etag}))
    no_server_errors(out)
    check(statuses(out) == [200] + [412] * 3, f"answers {statuses(out)}")
    [winner] = [o for o in out if o.status == 200]
    now = api.get(path)
    check(now["koyo_wages"] == 2_000 + winner.index and now["version"] == 2, f"the winner's value stays: {now}")
    check(winner.response.headers.get("ETag") == '"2"', "the PUT answers the new ETag")  # type: ignore[union-attr]
    rows = _rows(settings, "SELECT count(*) AS n FROM wage_reports WHERE member_id = :m", m=m["id"])
    check(rows[0].n == 1, "one report per member and year")


def test_a_wage_report_is_replaced_only_with_its_etag(api: Api) -> None:  # noqa: F811
    m = api.member()
    path = f"/members/{m['id']}/wages/2024"
    created = api.call("PUT", path, 201, json=B7_WAGES, headers={"If-None-Match": "*"})
    assert created.headers["ETag"] == '"1"'
    assert api.call("PUT", path, 428, json=B7_WAGES).json()["type"].endswith("/precondition-required")
    assert api.call("PUT", path, 412, json=B7_WAGES, headers={"If-Match": '"7"'}).json()["status"] == 412
    assert api.call("PUT", path, 412, json=B7_WAGES, headers={"If-None-Match": "*"}).json()["status"] == 412
    assert api.call("PUT", path, 200, json=B7_WAGES, headers={"If-Match": '"1"'}).headers["ETag"] == '"2"'
    # If-Match on a report that does not exist yet: nothing to match (RFC 9110 13.1.1).
    api.call("PUT", f"/members/{m['id']}/wages/2023", 412, json=B7_WAGES, headers={"If-Match": '"1"'})


@covers(f"POST {J}/client-renewal-runs")
def test_client_renewal_runs_of_one_year_at_once_run_one_at_a_time(api: Api, settings: CommonSettings  # noqa: F811
                                                                   ) -> None:
    """The office's run for its own clients (issue 25) holds like the association's: one at a time per
    tenant, year and kind, each client computed once, and a 409 names the running run."""
    from tests.jimukumiai.test_client_renewal import client

    clients = [client(api, 2024, B7_WAGES) for _ in range(3)]
    out = fire(5, _post(api, "/client-renewal-runs", {"fiscal_year": 2025}))
    no_server_errors(out)
    check(set(statuses(out)) <= {201, 409} and 201 in statuses(out), f"answers {statuses(out)}")
    runs = _rows(settings, "SELECT id, finished_at, computed FROM renewal_runs WHERE tenant_id = :t", t=api.tenant)
    check(all(r.finished_at is not None for r in runs), f"runs left unfinished: {runs}")
    check(sum(r.computed for r in runs) == len(clients), f"clients computed {[r.computed for r in runs]}")
    for o in out:
        if o.status == 409:
            body = o.response.json()  # type: ignore[union-attr]
            check(body["run_id"] in {r.id for r in runs}, f"a 409 names the running run: {body}")
    renewals = _rows(settings, "SELECT member_id FROM renewals WHERE tenant_id = :t", t=api.tenant)
    check(sorted(r.member_id for r in renewals) == sorted(c["id"] for c in clients), "one renewal per client")


@covers(f"POST {J}/clients")
def test_one_client_registered_five_times_at_once_exists_once(api: Api, settings: CommonSettings) -> None:  # noqa: F811
    """A 労働保険番号 is registered once per tenant: parallel registrations of one employer leave one
    row, the others get a clean 409."""
    from tests.jimukumiai.test_client_renewal import client_body

    out = fire(5, _post(api, "/clients", client_body()))
    no_server_errors(out)
    check(sorted(statuses(out)) == [201, 409, 409, 409, 409], f"answers {statuses(out)}")
    rows = _rows(settings, "SELECT count(*) AS n FROM members WHERE tenant_id = :t", t=api.tenant)
    check(rows[0].n == 1, f"{rows[0].n} rows for one employer")
