"""CSV import (all or nothing, or partial) and export."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from services.koyo_hoken.models import InsuredPerson
from shared.db import Database
from tests.conftest import bearer
from tests.koyo_hoken.support import ALL_WRITE, BASE, MY_NUMBER, person, tenant
from tests.services.support import assert_matches_contract, outbox_payloads

HEADER = ("action,jigyosho_id,family_name,given_name,family_name_kana,given_name_kana,birth_date,hire_date,"
          "weekly_hours,gender,hihokensha_bango,my_number,leave_date,soshitsu_cause,with_rishoku_shomeisho\n")


def hire(n, js="js-1", number="", my_number="", kana="ヤマダ", birth="1990-04-01"):
    return f"hire,{js},山田,太郎{n},{kana},タロウ,{birth},2025-04-01,40,male,{number},{my_number},,,\n"


def post(c, h, body, mode=None):
    params = {"mode": mode} if mode else {}
    return c.post(f"{BASE}/insured-persons/import", headers={**h, "Content-Type": "text/csv"}, params=params,
                  content=body.encode())


def test_all_or_nothing_imports_nothing_on_any_row_error(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    body = HEADER + hire(1) + hire(2, kana="Yamada") + hire(3, my_number="123456789012") + hire(4)
    r = post(c, h, body)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    result = r.json()["result"]
    assert result["imported_persons"] == 0 and result["rows"] == 4
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(3, "family_name_kana"), (4, "my_number")]
    assert "123456789012" not in r.text
    assert c.get(f"{BASE}/insured-persons", headers=h).json()["total"] == 0


def test_imported_persons_read_back_and_are_announced_as_registrations(service_client, tokens, settings):
    """The import inserts its rows in bulk (Core, not ORM objects, issue #22): each person still reads
    back as one registered over POST does — number normalised and claimed, My Number sealed to its
    row — with exactly one insured_person.registered event of the contract's shape."""
    c = service_client("koyo_hoken")
    tid = tenant()
    h = bearer(tokens.user(tid))
    r = post(c, h, HEADER + hire(1, number="12345678901", my_number=MY_NUMBER) + hire(2, js="js-2"))
    assert r.status_code == 200 and r.json()["imported_persons"] == 2, r.text
    items = {p["jigyosho_id"]: p for p in c.get(f"{BASE}/insured-persons", headers=h).json()["items"]}
    one, two = items["js-1"], items["js-2"]
    assert (one["hihokensha_bango"], one["my_number_masked"], one["version"], one["status"]) == \
        ("1234-567890-1", "********9018", 1, "active")
    assert (two["hihokensha_bango"], two["my_number_registered"]) == (None, False)
    for p in (one, two):
        events = outbox_payloads(settings, "koyo_hoken", p["id"])
        assert [e["type"] for e in events] == ["roumu.koyo_hoken.insured_person.registered"]
        assert_matches_contract(events[0])
        assert events[0]["subject"] == {"insured_person_id": p["id"], "tenant_id": tid,
                                        "jigyosho_id": p["jigyosho_id"]}
        assert events[0]["data"] == {"hire_date": "2025-04-01", "weekly_hours": "40", "status": "active"}
    # The imported row is found by the number's key and holds its claim: the legacy 4-6 form is
    # refused as a duplicate (a missing key would surface only as the unique index's race answer).
    again = c.post(f"{BASE}/insured-persons", headers=h, json=person("js-2", hihokensha_bango="1234-567890"))
    assert again.status_code == 409 and again.json()["title"] == "同じ被保険者番号の方が登録されています", again.text
    db = Database(settings.database_url("koyo_hoken"))
    try:
        with db.sessions() as session:
            stored = session.execute(select(InsuredPerson.hihokensha_key, InsuredPerson.hihokensha_claim)
                                     .where(InsuredPerson.id == one["id"])).one()
    finally:
        db.dispose()
    assert tuple(stored) == ("1234567890", "1234567890")


def test_partial_imports_valid_rows_and_reports_the_rest(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    body = HEADER + hire(1, number="1234-567890-1", my_number=MY_NUMBER) + hire(2, kana="Yamada") + \
        hire(3, number="1234-567890-1")
    r = post(c, h, body, mode="partial")
    assert r.status_code == 200, r.text
    assert r.json()["imported_persons"] == 1 and [e["row"] for e in r.json()["errors"]] == [3, 4]
    page = c.get(f"{BASE}/insured-persons", headers=h).json()
    assert page["total"] == 1 and page["items"][0]["my_number_masked"] == "********9018"


def test_leavers_create_draft_soshitsu_and_59_needs_certificate(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    r = post(c, h, HEADER + hire(1, number="1111-111111-1") + hire(2, number="2222-222222-2", birth="1960-01-01"))
    assert r.status_code == 200, r.text
    leave = "leave,js-1,,,,,,,,,{n},,2025-10-20,2,{cert}\n"
    r = post(c, h, HEADER + leave.format(n="1111-111111-1", cert="0") + leave.format(n="2222-222222-2", cert="0"))
    assert r.status_code == 422
    assert [(e["row"], e["field"]) for e in r.json()["result"]["errors"]] == [(3, "with_rishoku_shomeisho")]
    r = post(c, h, HEADER + leave.format(n="1111-111111-1", cert="0") + leave.format(n="2222-222222-2", cert="1"))
    assert r.status_code == 200 and r.json()["created_procedures"] == 2
    procs = c.get(f"{BASE}/procedures", headers=h).json()["items"]
    assert sorted(p["kind"] for p in procs) == ["shikaku_soshitsu", "shikaku_soshitsu_rishoku"]
    assert {p["due_date"] for p in procs} == {"2025-10-31"}


def test_header_and_media_type_errors(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    assert post(c, h, "family_name\n山田\n").status_code == 422
    assert post(c, h, HEADER.replace("gender", "nickname")).status_code == 422
    r = c.post(f"{BASE}/insured-persons/import", headers={**h, "Content-Type": "application/xml"}, content=b"<x/>")
    assert r.status_code == 415


def test_export_masks_my_number_and_respects_grants(service_client, tokens, grants):
    c = service_client("koyo_hoken")
    tid = tenant()
    h = bearer(tokens.user(tid))
    assert post(c, h, HEADER + hire(1, my_number=MY_NUMBER) + hire(2, js="js-2")).status_code == 200
    r = c.get(f"{BASE}/insured-persons/export.csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.removeprefix("\ufeff"))))
    assert len(rows) == 2 and MY_NUMBER not in r.text
    assert {row["my_number_masked"] for row in rows} == {"********9018", ""}
    grants.seed(tid, "u-2", ALL_WRITE, jigyosho_all=False, jigyosho_ids=["js-2"])
    r = c.get(f"{BASE}/insured-persons/export.csv", headers=bearer(tokens.user(tid, "u-2")))
    assert [row["jigyosho_id"] for row in csv.DictReader(io.StringIO(r.text.removeprefix("\ufeff")))] == ["js-2"]
    # Round trip: the export's columns (less the read-only ones) import again.
    assert "family_name_kana" in rows[0] and rows[0]["weekly_hours"] == "40.00"
