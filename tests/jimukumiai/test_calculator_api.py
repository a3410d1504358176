"""The calculator API (no persistence): the DOMAIN.md B6–B9 worked examples through HTTP, exact to
the yen and the day; bad input is a 422 problem, never a 500."""

import uuid

import pytest

from tests.conftest import bearer

BASE = "/api/v1/jimukumiai/calculator"
B7 = {"fiscal_year": 2025, "rousai_code": "94", "koyo_kubun": "ippan", "rousai_wages": 12_345_678,
      "koyo_wages": 11_800_500, "paid_estimate": 200_000}


@pytest.fixture
def calc(service_client, tokens):
    c = service_client("jimukumiai")
    headers = bearer(tokens.user(str(uuid.uuid4())))

    return Calc(c, headers)


class Calc:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def __call__(self, path, body, expect=200):
        r = self.client.post(f"{BASE}/{path}", json=body, headers=self.headers)
        assert r.status_code == expect, r.text
        return r.json()


def test_b7_individually_insured(calc):
    r = calc("renewal", {**B7, "entrusted": False})
    c, e = r["confirmed"], r["estimate"]
    assert (c["rousai_base"], c["koyo_base"]) == (12_345_000, 11_800_000)
    assert (c["rousai_premium"], c["koyo_premium"], c["total"]) == (37_035, 182_900, 219_935)
    assert c["rousai_rate"] == "3" and c["koyo_rate"] == "15.5"
    assert r["general_contribution"] == 246 and r["settlement"]["shortage"] == 19_935
    assert (e["koyo_premium"], e["total"]) == (171_100, 208_135) and e["koyo_rate"] == "14.5"
    assert r["plan"]["allowed"] is False
    assert [(i["amount_due"], i["due_on"]) for i in r["plan"]["installments"]] == [(228_316, "2025-07-10")]
    assert r["filing_deadline"] == "2025-07-10"


def test_b8_entrusted_installments(calc):
    r = calc("renewal", B7)
    assert [(i["premium"], i["amount_due"], i["due_on"]) for i in r["plan"]["installments"]] == [
        (69_379, 89_560, "2025-07-10"), (69_378, 69_378, "2025-11-14"), (69_378, 69_378, "2026-02-16")]
    assert r["plan"]["total_due"] == 228_316
    p = calc("installments", {"fiscal_year": 2025, "estimate": 1_000_001, "entrusted": False})
    assert [i["premium"] for i in p["installments"]] == [333_335, 333_333, 333_333]
    assert [i["due_on"] for i in p["installments"]] == ["2025-07-10", "2025-10-31", "2026-02-02"]


def test_settlements_through_the_api(calc):
    r = calc("renewal", {**B7, "paid_estimate": 300_000})
    assert r["settlement"]["applied_to_premium"] == 80_065
    assert [i["amount_due"] for i in r["plan"]["installments"]] == [246, 58_692, 69_378]
    r = calc("renewal", {**B7, "paid_estimate": 300_000, "excess_use": "refund"})
    assert r["refund_claim"] == {"fiscal_year": 2024, "premium_refund": 80_065, "general_contribution_refund": 0,
                                 "amount": 80_065, "file_by": "2025-07-10"}
    r = calc("renewal", {**B7, "estimated_rousai_wages": 24_691_000, "estimated_koyo_wages": 23_601_999})
    assert r["estimate"]["total"] == 416_287 and r["estimate"]["koyo_base_source"] == "estimate"
    r = calc("renewal", {"fiscal_year": 2025, "rousai_code": "94", "koyo_kubun": "ippan",
                         "established_on": "2025-06-16", "estimated_rousai_wages": 6_000_500,
                         "estimated_koyo_wages": 5_000_999})
    assert r["confirmed"] is None
    assert [(i["amount_due"], i["due_on"]) for i in r["plan"]["installments"]] == [(45_250, "2025-08-05"),
                                                                                   (45_250, "2026-02-16")]


def test_special_enrolment_examples(calc):
    r = calc("special-enrolment", {"fiscal_year": 2025, "rousai_code": "94",
                                   "special_enrolments": [{"daily_amount": 10_000}]})
    assert (r["total_base"], r["premium"]) == (3_650_000, 10_950)
    r = calc("special-enrolment", {"fiscal_year": 2025, "rousai_code": "94",
                                   "special_enrolments": [{"daily_amount": 10_000, "joined_on": "2025-09-01"}]})
    assert (r["months"], r["member_bases"], r["total_base"], r["premium"]) == ([7], [2_129_169], 2_129_000, 6_387)
    r = calc("renewal", {**B7, "special_enrolments": [{"daily_amount": 10_000, "joined_on": "2025-09-01"}]})
    assert r["confirmed"]["special_premium"] == 0 and r["estimate"]["special_premium"] == 6_387
    assert r["estimate"]["total"] == 208_135 + 6_387


def test_increase_estimate(calc):
    r = calc("increase-estimate", {"fiscal_year": 2025, "rousai_code": "94", "koyo_kubun": "ippan",
                                   "used_rousai_base": 12_345_000, "used_koyo_base": 11_800_000,
                                   "filed_estimate": 208_135, "new_rousai_wages": 30_000_000,
                                   "new_koyo_wages": 29_000_000, "expected_on": "2025-09-01"})
    assert (r["due"], r["increase"], r["deadline"]) == (True, 302_365, "2025-10-01")


def test_rates(calc):
    r = calc.client.get(f"{BASE}/rates", params={"fiscal_year": 2026}, headers=calc.headers)
    assert r.status_code == 200
    body = r.json()
    assert {k["kubun"]: k["total"] for k in body["koyo"]} == {"ippan": "13.5", "norin_shuzo": "15.5",
                                                                "kensetsu": "16.5"}
    assert body["general_contribution_rate"] == "0.02" and len(body["daily_amount_levels"]) == 16
    r = calc.client.get(f"{BASE}/rates", params={"fiscal_year": 2022}, headers=calc.headers)
    assert r.status_code == 422 and r.json()["type"].endswith("/rate-not-found")


def test_refusals_are_problems(calc):
    r = calc("renewal", {**B7, "rousai_code": "65"}, 422)
    assert r["type"].endswith("/rate-not-found")
    r = calc("renewal", {**B7, "fiscal_year": 2024}, 422)  # the FY2023 確定 needs 令和5 労災 rates
    assert r["type"].endswith("/rate-not-found")
    r = calc("renewal", {**B7, "rousai_code": None, "koyo_kubun": None}, 422)
    assert r["type"].endswith("/renewal-input")
    r = calc("renewal", {**B7, "special_enrolments": [{"daily_amount": 11_000}]}, 422)
    assert r["errors"][0]["field"].startswith("body")
    r = calc("renewal", {**B7, "rousai_wages": -1}, 422)
    assert [e["field"] for e in r["errors"]] == ["body.rousai_wages"]
    r = calc("installments", {"fiscal_year": 2025, "estimate": 10, "appropriated": 11}, 422)
    assert r["type"].endswith("/renewal-input")


def test_needs_a_token(calc):
    r = calc.client.post(f"{BASE}/renewal", json=B7)
    assert r.status_code == 401
