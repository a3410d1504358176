"""Members with their full fields: size limit by main business, edits with If-Match, leaving,
特別加入 spans, wages entered or imported by CSV, the association's own 労働保険番号."""

from tests.jimukumiai.conftest import member_body
from tests.services.support import assert_matches_contract, outbox_payloads


def test_size_limit_refuses_a_51_worker_retailer(api):
    r = api.call("POST", "/members", 422, json=member_body(regular_workers=51, main_business="retail"))
    body = r.json()
    assert body["type"].endswith("/size-limit-exceeded") and (body["limit"], body["workers"]) == (50, 51)
    assert api.member(regular_workers=50, main_business="retail")["regular_workers"] == 50
    assert api.call("POST", "/members", 422, json=member_body(regular_workers=101, main_business="service"))
    assert api.member(regular_workers=100, main_business="service")["main_business"] == "service"
    assert api.member(regular_workers=300, main_business="other")
    # Nothing was stored for the refused ones.
    assert api.get("/members")["total"] == 3


def test_full_fields_and_edit_with_if_match(api, settings):
    m = api.member(labour_insurance_number="13-1-01-555555-000", branch_number="001", insured_workers=10,
                   entrusted_scope=["premiums", "special_enrolment"], established_on="2019-05-01",
                   business_name="山田商店 本店", bank_account={"bank_code": "0001", "bank_branch_code": "123",
                                                           "account_type": "ordinary", "account_number": "1234567",
                                                           "account_holder_kana": "ﾔﾏﾀﾞｼｮｳﾃﾝ"})
    assert m["bank_account"]["account_number"] == "1234567" and m["branch_number"] == "001"
    assert m["entrusted_scope"] == ["premiums", "special_enrolment"] and m["special_enrolment"] is False
    path = f"/members/{m['id']}"
    assert api.call("PATCH", path, 428, json={"regular_workers": 20}).json()["type"].endswith("precondition-required")
    assert api.call("PATCH", path, 412, json={"regular_workers": 20}, headers={"If-Match": '"9"'})
    r = api.call("PATCH", path, 200, json={"regular_workers": 20, "bank_account": None}, headers={"If-Match": '"1"'})
    assert r.json()["regular_workers"] == 20 and r.json()["bank_account"] is None and r.headers["etag"] == '"2"'
    # Above the limit: refused, unless the excess is temporary.
    r = api.call("PATCH", path, 422, json={"regular_workers": 301}, headers={"If-Match": '"2"'})
    r = api.call("PATCH", path, 200, json={"regular_workers": 301, "over_limit_temporarily": True},
                 headers={"If-Match": '"2"'})
    assert r.json()["regular_workers"] == 301
    # A 労災 code not in the table is refused; dropping both insurances too.
    api.call("PATCH", path, 422, json={"rousai_code": "65"}, headers={"If-Match": '"3"'})
    api.call("PATCH", path, 422, json={"rousai_code": None, "koyo_kubun": None}, headers={"If-Match": '"3"'})
    # No bank account in any event.
    for event in outbox_payloads(settings, "jimukumiai", m["id"]):
        assert "1234567" not in str(event)


def test_leave_publishes_member_left(api, settings):
    m = api.member()
    left = api.post(f"/members/{m['id']}/leave", {"entrusted_until": "2025-09-30"})
    assert left["status"] == "left" and left["entrusted_until"] == "2025-09-30"
    api.post(f"/members/{m['id']}/leave", {"entrusted_until": "2025-09-30"}, 409)
    events = outbox_payloads(settings, "jimukumiai", m["id"])
    assert [e["type"] for e in events] == ["roumu.jimukumiai.member.entrusted", "roumu.jimukumiai.member.left"]
    for e in events:
        assert_matches_contract(e)


def test_special_enrolment_spans(api, settings):
    m = api.member()
    s = api.post(f"/members/{m['id']}/special-enrolments",
                 {"person_name": "山田太郎", "role": "owner", "daily_amount": 10_000, "joined_on": "2024-04-01"}, 201)
    api.post(f"/members/{m['id']}/special-enrolments",
             {"person_name": "山田花子", "role": "family", "daily_amount": 11_000, "joined_on": "2024-04-01"}, 422)
    assert api.get(f"/members/{m['id']}")["special_enrolment"] is True
    api.post(f"/members/{m['id']}/special-enrolments/{s['id']}/leave", {"left_on": "2025-04-01"})
    assert api.get(f"/members/{m['id']}")["special_enrolment"] is False
    [row] = api.get(f"/members/{m['id']}/special-enrolments")
    assert row["left_on"] == "2025-04-01"
    events = [e for e in outbox_payloads(settings, "jimukumiai", s["id"])]
    assert [e["data"]["change"] for e in events] == ["joined", "left"]
    for e in events:
        assert_matches_contract(e)
        assert "山田" not in str(e["data"])
    no_rousai = api.member(rousai_code=None)
    api.post(f"/members/{no_rousai['id']}/special-enrolments",
             {"person_name": "x", "role": "owner", "daily_amount": 10_000, "joined_on": "2024-04-01"}, 409)


def test_wages_entered_and_imported(api):
    a, b = api.member(), api.member()
    r = api.call("PUT", f"/members/{a['id']}/wages/2024", 201, json={"rousai_wages": 12_345_678,
                                                                     "koyo_wages": 11_800_500})
    assert r.json()["source"] == "entered"
    # Replacing needs the report's ETag (issue 29: concurrent writers lost updates).
    api.call("PUT", f"/members/{a['id']}/wages/2024", 428, json={"rousai_wages": 1, "koyo_wages": 1})
    api.call("PUT", f"/members/{a['id']}/wages/2024", 200, json={"rousai_wages": 1, "koyo_wages": 1},
             headers={"If-Match": r.headers["ETag"]})
    csv = ("labour_insurance_number,fiscal_year,rousai_wages,koyo_wages,paid_estimate\n"
           f"{a['labour_insurance_number']},2024,\"12,345,678\",11800500,200000\n"
           f"{b['labour_insurance_number']},2024,5000000,5000000,\n")
    r = api.call("POST", "/wages/import", 200, content=csv.encode(), headers={"Content-Type": "text/csv"})
    assert r.json() == {"imported": 2, "errors": []}
    got = api.get(f"/members/{a['id']}/wages/2024")
    assert (got["rousai_wages"], got["paid_estimate"], got["source"]) == (12_345_678, 200_000, "csv")
    bad = csv + "99999999999999,2024,1,1,\n" + f"{a['labour_insurance_number']},x,1,1,\n"
    r = api.call("POST", "/wages/import", 200, content=bad.encode(), headers={"Content-Type": "text/csv"})
    assert r.json()["imported"] == 0 and [e["line"] for e in r.json()["errors"]] == [4, 5]
    api.call("POST", "/wages/import", 422, content=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})


def test_association(api):
    api.get("/association", 404)
    r = api.call("PUT", "/association", 200, json={"name": "山田商工会 労働保険事務組合",
                                                   "labour_insurance_number": "13-1-01-900000-000"})
    assert r.json()["labour_insurance_number"] == "13101900000000"
    api.call("PUT", "/association", 428, json={"name": "x", "labour_insurance_number": "13101900000000"})
    r = api.call("PUT", "/association", 200, json={"name": "改称", "labour_insurance_number": "13101900000000"},
                 headers={"If-Match": '"1"'})
    assert api.get("/association")["name"] == "改称"
