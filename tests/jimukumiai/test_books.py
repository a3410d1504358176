"""The statutory books: the 処理簿 fed by koyo_hoken and efiling events, the three CSV exports
(encoding, content, range, 事業所 scope, menu), and retention at its boundaries with a FrozenClock
(the ledger's DELETE guard included)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from services.jimukumiai import retention
from services.jimukumiai.app import retention_job
from services.jimukumiai.filing_book import on_filing_event, on_procedure_event
from services.jimukumiai.models import FilingBookEntry, LedgerEntry, LedgerPurgePermit, Member, messaging
from services.jimukumiai.rules.retention import (
    LEDGER_YEARS,
    PageEntry,
    expired,
    filing_completed_on,
    ledger_page_completed_on,
    member_purgeable,
    purge_from,
)
from shared.clock import JST
from shared.events import Actor, EventEnvelope
from shared.nats_auth import ADMIN
from shared.nats_client import connect
from tests.conftest import bearer
from tests.jimukumiai.conftest import BASE
from tests.services.grants import GrantSeeder
from tests.services.support import assert_matches_contract, outbox_payloads
from tests.support.consumers import wait_caught_up

# --- the rule ---------------------------------------------------------------------------------


def test_periods_count_from_the_day_after_completion():
    assert purge_from(date(2024, 3, 31), 3) == date(2027, 4, 1)
    assert purge_from(date(2025, 6, 10), 4) == date(2029, 6, 11)
    # A period starting on 2/29 ends on 2/28 where there is no 2/29: purge from 3/1.
    assert purge_from(date(2024, 2, 28), 3) == date(2027, 3, 1)
    assert purge_from(date(2024, 2, 28), 4) == date(2028, 2, 29)
    assert not expired(date(2024, 3, 31), 3, date(2027, 3, 31))
    assert expired(date(2024, 3, 31), 3, date(2027, 4, 1))
    assert not expired(None, 3, date(2100, 1, 1))  # never completed: never expires


def test_a_ledger_page_is_complete_only_when_settled():
    d = date
    owed = [PageEntry("shortage", 19_935, d(2025, 6, 2), d(2025, 7, 10)),
            PageEntry("confirmed", 219_935, d(2025, 6, 2), None)]
    assert ledger_page_completed_on(owed) is None  # nothing collected yet
    paid = [*owed, PageEntry("collected", 19_935, d(2025, 7, 8), None)]
    assert ledger_page_completed_on(paid) == d(2025, 7, 10)  # the latest date on the page
    over = [*paid, PageEntry("collected", 1, d(2025, 7, 9), None)]
    assert ledger_page_completed_on(over) is None  # collected more than owed: money held
    corrected = [*over, PageEntry("collected", -1, d(2025, 8, 1), None)]
    assert ledger_page_completed_on(corrected) == d(2025, 8, 1)
    refund = [PageEntry("refund_claimed", 5_000, d(2025, 6, 2), None)]
    assert ledger_page_completed_on(refund) is None
    assert ledger_page_completed_on([*refund, PageEntry("refund_paid", 5_000, d(2025, 9, 1), None)]) == d(2025, 9, 1)
    assert ledger_page_completed_on([]) is None
    assert filing_completed_on("completed", d(2025, 6, 10)) == d(2025, 6, 10)
    assert filing_completed_on("submitted", d(2025, 6, 10)) is None
    assert member_purgeable(d(2025, 6, 30), d(2028, 7, 1), other_books_hold_it=False)
    assert not member_purgeable(d(2025, 6, 30), d(2028, 6, 30), other_books_hold_it=False)
    assert not member_purgeable(d(2025, 6, 30), d(2030, 1, 1), other_books_hold_it=True)
    assert not member_purgeable(None, d(2100, 1, 1), other_books_hold_it=False)


# --- helpers ----------------------------------------------------------------------------------


def runtime(api):
    return api.client.app.state.runtime


def jst(y, m, d, h=10):
    return datetime(y, m, d, h, tzinfo=JST).astimezone(UTC)


def procedure_event(tenant, what, procedure_id, at, *, jigyosho_id="js-1", person="ip-1", kind="shikaku_shutoku",
                    state=None, from_state="ready", filing_id=None):
    subject = {"procedure_id": procedure_id, "tenant_id": tenant, "jigyosho_id": jigyosho_id,
               "insured_person_id": person}
    if what == "created":
        data = {"kind": kind, "state": "draft", "event_date": "2025-06-01", "due_date": "2025-07-10"}
    else:
        data = {"kind": kind, "from_state": from_state, "state": state or what, "filing_id": filing_id}
        if what == "status_changed":
            data["reason"] = "efiling"
    return EventEnvelope(type=f"roumu.koyo_hoken.procedure.{what}", tenant_id=tenant, occurred_at=at,
                         actor=Actor(kind="service", id="koyo_hoken"), subject=subject, data=data)


def filing_event(tenant, what, procedure_id, filing_id, at, *, jigyosho_id="js-1", **data):
    subject = {"filing_id": filing_id, "tenant_id": tenant, "jigyosho_id": jigyosho_id,
               "idempotency_key": procedure_id, "source": "koyo_hoken"}
    return EventEnvelope(type=f"roumu.efiling.filing.{what}", tenant_id=tenant, occurred_at=at,
                         actor=Actor(kind="service", id="efiling"), subject=subject,
                         data={"procedure_code": "950A010002011000", **data})


def apply(api, *events):
    """Each event, checked against its contract, through the consumer's handler (one transaction each)."""
    for ev in events:
        assert_matches_contract(json.loads(ev.to_json()))
        handler = on_procedure_event if ev.type.startswith("roumu.koyo_hoken.") else on_filing_event
        with runtime(api).transaction() as session:
            handler(session, ev)


def export(api, book, since, until, expect=200, headers=None, **params):
    r = api.client.get(f"{BASE}/books/{book}.csv", headers=headers or api.headers,
                       params={"from": since, "to": until, **params})
    assert r.status_code == expect, r.text
    return r


def rows(r):
    assert r.content.startswith("\ufeff".encode())
    body = r.content.decode("utf-8")
    assert "\r\n" in body
    return list(csv.reader(io.StringIO(body[1:], newline="")))


def count(api, model, **where):
    with runtime(api).db.sessions() as session:
        return session.execute(select(func.count()).select_from(model).where(
            *[getattr(model, k) == v for k, v in where.items()])).scalar_one()


def purge(api, on):
    """The retention of one tenant on day `on` (the job runs this for every tenant)."""
    with runtime(api).transaction() as session:
        return retention.purge_tenant(session, api.tenant, on)


# --- the 処理簿 from events -------------------------------------------------------------------


def full_lifecycle(tenant, pid, fid):
    return [
        procedure_event(tenant, "created", pid, jst(2025, 6, 2)),
        procedure_event(tenant, "status_changed", pid, jst(2025, 6, 3), state="checked", from_state="draft"),
        filing_event(tenant, "drafted", pid, fid, jst(2025, 6, 4), status="draft"),
        filing_event(tenant, "submitted", pid, fid, jst(2025, 6, 4, 18), status="arrived",
                     arrive_id="2025060400000001", arrive_date="2025-06-04 17:58:00", attempts=1, via="apply"),
        procedure_event(tenant, "submitted", pid, jst(2025, 6, 5), from_state="ready", filing_id=fid),
        filing_event(tenant, "official_document_received", pid, fid, jst(2025, 6, 10), status="completed",
                     arrive_id="2025060400000001", notice_sub_id=1, document_id="doc-1", signature_valid=True),
        procedure_event(tenant, "completed", pid, jst(2025, 6, 10, 11), from_state="submitted", filing_id=fid),
    ]


def test_filing_book_is_built_from_koyo_hoken_and_efiling_events_for_members_only(api):
    member = api.member(jigyosho_id="js-1")
    pid, fid = str(uuid.uuid4()), str(uuid.uuid4())
    events = full_lifecycle(api.tenant, pid, fid)
    # Delivered out of order across the two feeds, and one twice: each state only moves forward.
    apply(api, *events[:3], events[4], events[3], *events[5:], events[1])
    other = str(uuid.uuid4())  # a 事業所 that is not a member's: not in the book
    apply(api, procedure_event(api.tenant, "created", other, jst(2025, 6, 2), jigyosho_id="js-not-a-member"))
    open_pid = str(uuid.uuid4())  # a 届出 still under way
    apply(api, procedure_event(api.tenant, "created", open_pid, jst(2025, 6, 20), kind="shikaku_soshitsu",
                               person="ip-2"))
    # A filing drafted by staff (no source) is not a koyo_hoken 届出.
    staff = filing_event(api.tenant, "drafted", "x", str(uuid.uuid4()), jst(2025, 6, 2), status="draft")
    staff.subject.pop("source")
    apply(api, staff)

    table = rows(export(api, "filing-register", "2025-06-01", "2025-06-30"))
    assert table[0] == ["届出の種類", "労働保険番号", "事業主の氏名又は名称", "事業所ID", "被保険者ID", "受付年月日",
                        "提出年月日", "処理年月日", "状態", "電子申請の状態", "到達番号", "届出ID"]
    assert table[1:] == [
        ["雇用保険被保険者資格取得届", member["labour_insurance_number"], "株式会社山田商店", "js-1", "ip-1",
         "2025-06-02", "2025-06-04", "2025-06-10", "完了", "completed", "2025060400000001", pid],
        ["雇用保険被保険者資格喪失届", member["labour_insurance_number"], "株式会社山田商店", "js-1", "ip-2",
         "2025-06-20", "", "", "作成中", "", "", open_pid],
    ]
    # The range is on the 受付日.
    assert rows(export(api, "filing-register", "2025-06-03", "2025-06-19"))[1:] == []
    assert count(api, FilingBookEntry, tenant_id=api.tenant) == 2


def test_filing_book_events_through_nats(api, settings):
    """The same feed end to end: events published on the stream reach the service's consumers."""
    api.member(jigyosho_id="js-1")
    pid, fid = str(uuid.uuid4()), str(uuid.uuid4())
    events = full_lifecycle(api.tenant, pid, fid)

    async def publish() -> None:
        nc = await connect(settings.nats_access(ADMIN), "tests-jimukumiai-books")
        try:
            js = nc.jetstream()
            for ev in events:
                assert_matches_contract(json.loads(ev.to_json()))
                await js.publish(ev.type, ev.to_json(), stream=settings.nats_stream, headers={"Nats-Msg-Id": ev.id})
        finally:
            await nc.close()

    asyncio.run(publish())

    def line():
        with runtime(api).db.sessions() as session:
            return session.execute(select(FilingBookEntry).where(FilingBookEntry.tenant_id == api.tenant,
                                                                 FilingBookEntry.procedure_id == pid)
                                   ).scalar_one_or_none()

    def facts(row):
        return None if row is None else (row.received_on, row.submitted_on, row.processed_on, row.closed_on,
                                         row.arrive_id, row.status, row.filing_status)

    expected = (date(2025, 6, 2), date(2025, 6, 4), date(2025, 6, 10), date(2025, 6, 10), "2025060400000001",
                "completed", "completed")
    # Both consumers first work through every earlier test's events on the session's stream.
    for durable in ("jimukumiai-koyo-hoken-procedures", "jimukumiai-efiling-filings"):
        wait_caught_up(settings, durable)
    # The two consumers may race for the new line (one retries) and retries reorder the feed: wait
    # for the line to settle, then check it.
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while facts(line()) != expected and datetime.now(UTC) < deadline:
        time.sleep(0.1)
    assert facts(line()) == expected


# --- the CSV exports --------------------------------------------------------------------------


def test_member_register_and_premium_ledger_csv(api):
    a = api.member(jigyosho_id="js-1", name="=HYPERLINK(\"x\")", owner_address="東京都千代田区1-1",
                   business_kind="小売業", insured_workers=10, entrusted_from="2024-04-01")
    b = api.member(jigyosho_id="js-2", name="有限会社佐藤", entrusted_from="2020-04-01")
    api.post(f"/members/{b['id']}/leave", {"entrusted_until": "2024-03-31"})
    api.post(f"/members/{a['id']}/special-enrolments",
             {"person_name": "山田太郎", "role": "owner", "daily_amount": 10_000, "joined_on": "2024-05-01"}, 201)

    table = rows(export(api, "member-register", "2024-04-01", "2025-03-31"))
    assert table[0][:3] == ["労働保険番号", "枝番号", "事業主の氏名又は名称"]
    by_id = {r[-1]: r for r in table[1:]}
    assert set(by_id) == {a["id"]}  # b left before the range
    row = dict(zip(table[0], by_id[a["id"]], strict=True))
    assert row["事業主の氏名又は名称"] == "'=HYPERLINK(\"x\")"  # no formula reaches Excel
    assert (row["事業主の住所"], row["事業の種類"], row["常時使用労働者数"], row["雇用保険被保険者数"]) == (
        "東京都千代田区1-1", "小売業", "12", "10")
    assert (row["委託年月日"], row["委託解除年月日"], row["特別加入の有無"], row["事業所ID"]) == (
        "2024-04-01", "", "有", "js-1")
    assert "保険料等の申告・納付" in row["委託された事務の範囲"]
    both = rows(export(api, "member-register", "2020-04-01", "2025-03-31"))
    left = next(r for r in both[1:] if r[-1] == b["id"])
    assert (left[10], left[11], left[12]) == ("2020-04-01", "2024-03-31", "無")
    assert all("口座" not in h for h in both[0])

    entry = api.post(f"/members/{a['id']}/ledger", {"kind": "collected", "fiscal_year": 2025, "amount": 1_000,
                                                    "occurred_on": "2025-05-01", "note": "+手数料"}, 201)
    rev = api.post(f"/ledger/{entry['id']}/reverse", {"occurred_on": "2025-05-02"}, 201)
    api.post(f"/members/{a['id']}/ledger", {"kind": "paid_to_state", "fiscal_year": 2025, "amount": 900,
                                            "occurred_on": "2025-06-01"}, 201)
    ledger = rows(export(api, "premium-ledger", "2025-05-01", "2025-05-31"))
    assert ledger[0] == ["労働保険番号", "事業主の氏名又は名称", "年度", "区分", "期", "金額", "納期限", "年月日",
                         "取消対象の記帳ID", "摘要", "記帳ID", "委託事業主ID"]
    lin = a["labour_insurance_number"]
    assert ledger[1:] == [
        [lin, "'=HYPERLINK(\"x\")", "2025", "事業主から徴収", "", "1000", "", "2025-05-01", "", "'+手数料", entry["id"],
         a["id"]],
        [lin, "'=HYPERLINK(\"x\")", "2025", "事業主から徴収", "", "-1000", "", "2025-05-02", entry["id"], "", rev["id"],
         a["id"]],
    ]


def test_exports_follow_the_menu_and_the_jigyosho_grant(api, settings, tokens):
    mine = api.member(jigyosho_id="js-1")
    api.member(jigyosho_id="js-2")
    seeder = GrantSeeder(settings)
    try:
        seeder.seed(api.tenant, "scoped", {"jimukumiai": "read"}, jigyosho_all=False, jigyosho_ids=["js-1"],
                    services=("jimukumiai",))
        seeder.seed(api.tenant, "no-menu", {"koyo_hoken": "write"}, services=("jimukumiai",))
    finally:
        seeder.close()
    scoped = bearer(tokens.user(api.tenant, "scoped"))
    for book in ("member-register", "premium-ledger", "filing-register"):
        export(api, book, "2024-01-01", "2025-12-31", 403, headers=bearer(tokens.user(api.tenant, "no-menu")))
        export(api, book, "2024-01-01", "2025-12-31", 404, headers=scoped, jigyosho_id="js-2")
        export(api, book, "2025-12-31", "2024-01-01", 422)
        export(api, book, "2024-01-01", "2025-12-31", 401, headers={"Authorization": "Bearer x"})
    table = rows(export(api, "member-register", "2020-01-01", "2030-12-31", headers=scoped))
    assert [r[-1] for r in table[1:]] == [mine["id"]]
    table = rows(export(api, "member-register", "2020-01-01", "2030-12-31", headers=scoped, jigyosho_id="js-1"))
    assert [r[-1] for r in table[1:]] == [mine["id"]]


def test_every_book_export_is_in_the_operation_log_without_its_rows(api, settings):
    """Issue 18 (reads and bulk exports): who exported which book, for which range and 事業所, how
    many rows — recorded when the stream ends; never a row."""
    api.member(jigyosho_id="js-1", name="株式会社記録")
    api.member(jigyosho_id="js-2", name="株式会社記録")
    export(api, "member-register", "2020-01-01", "2030-12-31")
    export(api, "member-register", "2020-01-01", "2030-12-31", jigyosho_id="js-2")
    export(api, "premium-ledger", "2025-04-01", "2026-03-31")
    export(api, "filing-register", "2025-04-01", "2026-03-31")
    got = [e for e in outbox_payloads(settings, "jimukumiai", api.tenant)
           if e["type"] == "roumu.jimukumiai.book.exported"]
    assert [(e["data"]["book"], e["data"]["rows"], e["data"]["complete"], e["subject"].get("jigyosho_id"))
            for e in got] == [("member-register", 2, True, None), ("member-register", 1, True, "js-2"),
                              ("premium-ledger", 0, True, None), ("filing-register", 0, True, None)]
    for e in got:
        assert_matches_contract(e)
        assert e["data"]["from"] and e["actor"]["kind"] == "user" and "株式会社記録" not in json.dumps(e)


# --- retention --------------------------------------------------------------------------------

B7_WAGES = {"rousai_wages": 12_345_678, "koyo_wages": 11_800_500, "paid_estimate": 200_000}


def test_ledger_pages_expire_three_years_after_they_are_settled(api, settings):
    m = api.member()
    api.call("PUT", f"/members/{m['id']}/wages/2024", 201, json=B7_WAGES)
    api.post("/renewal-runs", {"fiscal_year": 2025}, 201)  # FY2024: shortage 19,935 + 一般拠出金 246 by 7/10
    api.post(f"/members/{m['id']}/ledger", {"kind": "collected", "fiscal_year": 2024, "amount": 20_181,
                                            "occurred_on": "2025-07-08"}, 201)
    fy2024 = count(api, LedgerEntry, tenant_id=api.tenant, fiscal_year=2024)
    fy2025 = count(api, LedgerEntry, tenant_id=api.tenant, fiscal_year=2025)
    assert (fy2024, fy2025) == (4, 3)
    # FY2024's page is settled; its latest date is the 7/10 due date: kept through 2028-07-10.
    assert purge_from(date(2025, 7, 10), LEDGER_YEARS) == date(2028, 7, 11)
    assert purge(api, date(2028, 7, 10)).ledger_entries == 0
    assert count(api, LedgerEntry, tenant_id=api.tenant, fiscal_year=2024) == 4
    assert purge(api, date(2028, 7, 11)).ledger_entries == 4
    assert count(api, LedgerEntry, tenant_id=api.tenant, fiscal_year=2024) == 0
    # FY2025's estimates were never collected: the page stays open, whatever the date.
    assert purge(api, date(2040, 1, 1)).ledger_entries == 0
    assert count(api, LedgerEntry, tenant_id=api.tenant, fiscal_year=2025) == 3
    assert count(api, LedgerPurgePermit, tenant_id=api.tenant) == 0
    assert count(api, Member, id=m["id"]) == 1  # still entrusted, and named by the ledger

    # The ledger stays append-only, and nothing but the job (or the tenant purge) deletes from it.
    engine = create_engine(settings.database_url("jimukumiai"))
    try:
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text("UPDATE ledger_entries SET amount = 1 WHERE tenant_id = :t"), {"t": api.tenant})
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text("DELETE FROM ledger_entries WHERE tenant_id = :t"), {"t": api.tenant})
    finally:
        engine.dispose()
    assert count(api, LedgerEntry, tenant_id=api.tenant, fiscal_year=2025) == 3


def test_filing_lines_expire_four_years_after_the_filing_ended_and_members_three_after_leaving(api):
    m = api.member(jigyosho_id="js-1")
    api.post(f"/members/{m['id']}/special-enrolments",
             {"person_name": "山田太郎", "role": "owner", "daily_amount": 10_000, "joined_on": "2024-05-01"}, 201)
    done, open_ = str(uuid.uuid4()), str(uuid.uuid4())
    apply(api, *full_lifecycle(api.tenant, done, str(uuid.uuid4())))  # completed 2025-06-10
    apply(api, procedure_event(api.tenant, "created", open_, jst(2025, 6, 20)),
          procedure_event(api.tenant, "submitted", open_, jst(2025, 6, 21)))
    api.post(f"/members/{m['id']}/leave", {"entrusted_until": "2025-06-30"})
    gone = api.member(jigyosho_id="js-9")  # left, and no other book names it
    api.post(f"/members/{gone['id']}/leave", {"entrusted_until": "2025-06-30"})

    assert purge(api, date(2028, 6, 30)).members == 0
    p = purge(api, date(2028, 7, 1))  # 名簿: 3 years after the 委託解除日
    assert (p.members, p.filing_book_entries) == (1, 0)
    assert count(api, Member, id=gone["id"]) == 0 and count(api, Member, id=m["id"]) == 1
    assert count(api, FilingBookEntry, tenant_id=api.tenant) == 2
    assert purge(api, date(2029, 6, 10)).filing_book_entries == 0  # 4 years after 2025-06-10: the day before
    p = purge(api, date(2029, 6, 11))
    assert (p.filing_book_entries, p.members) == (1, 0)  # the open 届出 still names the member
    assert [r[-1] for r in rows(export(api, "filing-register", "2025-01-01", "2025-12-31"))[1:]] == [open_]
    apply(api, procedure_event(api.tenant, "completed", open_, jst(2026, 1, 15), from_state="submitted"))

    # The job itself, on the app's clock: the last line goes on 2030-01-16, and the member with it.
    api.clock.set(jst(2030, 1, 15, 12))
    retention_job(runtime(api))
    assert count(api, FilingBookEntry, tenant_id=api.tenant) == 1
    api.clock.set(jst(2030, 1, 16, 0))  # 00:00 JST is still 1/15 in UTC: the day is Japan's
    retention_job(runtime(api))
    assert count(api, FilingBookEntry, tenant_id=api.tenant) == 0
    assert count(api, Member, tenant_id=api.tenant) == 0
    assert export(api, "member-register", "2020-01-01", "2030-12-31").content.decode("utf-8").count("\r\n") == 1


def test_tenant_purge_clears_the_ledger_with_its_permit(api):
    m = api.member()
    api.call("PUT", f"/members/{m['id']}/wages/2024", 201, json=B7_WAGES)
    api.post("/renewal-runs", {"fiscal_year": 2025}, 201)
    assert count(api, LedgerEntry, tenant_id=api.tenant) == 6
    purger = retention.PermittedTenantPurge("jimukumiai", messaging)
    with runtime(api).transaction() as session:
        counts = purger.purge(session, api.tenant)
    assert counts["ledger_entries"] == 6 and counts["members"] == 1
    assert "ledger_purge_permits" not in counts
    assert count(api, LedgerEntry, tenant_id=api.tenant) == 0
    assert count(api, LedgerPurgePermit, tenant_id=api.tenant) == 0
