"""Payroll intake (issue 25): CP932 / UTF-8 detection, the Japanese-header mapping, a tenant's own
mapping, 事業所 by 事業所番号 or name, wage histories feeding the 離職証明書 wage table."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from tests.conftest import bearer
from tests.koyo_hoken import support
from tests.koyo_hoken.support import BASE

HEADER_JA = ("従業員番号,氏名,フリガナ,生年月日,性別,資格取得日,週所定労働時間,事業所番号,事業所名,雇用形態,"
             "賃金月額,備考\r\n")


def office_tenant() -> str:
    """A tenant with two 事業所 of their own number and name, and two sharing a name."""
    tid = str(uuid.uuid4())
    seeder = support.SEEDER[0]
    seeder.open(tid, "js-honsha", services=("koyo_hoken",), name="株式会社山田商店",
                employment_insurance_office_number="1301-111111-1")
    seeder.open(tid, "js-shiten", services=("koyo_hoken",), name="株式会社山田商店　大阪支店",
                employment_insurance_office_number="2701-222222-2")
    seeder.open(tid, "js-x", "js-y", services=("koyo_hoken",), name="同名商事", employment_insurance_office_number=None)
    return tid


def post(c, h, body: bytes, path="insured-persons/import", **params):
    return c.post(f"{BASE}/{path}", headers={**h, "Content-Type": "text/csv"}, params=params, content=body)


def persons(c, h):
    return c.get(f"{BASE}/insured-persons", headers=h, params={"limit": 100}).json()


def test_a_cp932_payroll_file_with_japanese_headers_reports_its_bad_row_and_writes_nothing(service_client, tokens):
    c = service_client("koyo_hoken", clock=support.frozen(2026, 4, 3))  # 20 h rules today
    tid = office_tenant()
    h = bearer(tokens.user(tid))
    rows = ("E001,山田 太郎,ヤマダ タロウ,1990/4/1,男,2025/4/1,40,1301-111111-1,,正社員,\"300,000\",\r\n"
            "E002,佐藤　花子,ｻﾄｳ ﾊﾅｺ,平成2年13月1日,女,2025/4/1,12,,株式会社山田商店　大阪支店,パート,98000円,\r\n"
            "E003,鈴木 一郎,スズキ イチロウ,S60.4.1,男,R7.4.1,12時間,,同名商事,パート,,\r\n")
    body = (HEADER_JA + rows).encode("cp932")
    assert body.decode("cp932") and not _is_utf8(body)
    r = post(c, h, body, mapping="ja")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    result = r.json()["result"]
    assert (result["rows"], result["imported_persons"], result["encoding"]) == (3, 0, "cp932")
    # Row and column as the user sees them (line 1 is the header), messages in Japanese.
    assert [(e["row"], e["field"], e["message"]) for e in result["errors"]] == [
        (3, "生年月日", "存在しない日付です"),
        (4, "事業所名", "該当する事業所が複数あります（事業所IDで指定してください）")]
    assert persons(c, h)["total"] == 0

    fixed = (HEADER_JA + rows.replace("平成2年13月1日", "平成2年12月1日").replace(",,同名商事,", ",1301-111111-1,,"))
    r = post(c, h, fixed.encode("cp932"), mapping="ja")
    assert r.status_code == 200, r.text
    assert (r.json()["imported_persons"], r.json()["encoding"], r.json()["mapping"]) == (3, "cp932", "ja")
    got = {p["employee_number"]: p for p in persons(c, h)["items"]}
    taro, hanako, ichiro = got["E001"], got["E002"], got["E003"]
    assert (taro["family_name"], taro["given_name"], taro["family_name_kana"], taro["gender"], taro["jigyosho_id"],
            taro["monthly_wage"], taro["employment_type"]) == ("山田", "太郎", "ヤマダ", "male", "js-honsha", 300000,
                                                               "regular")
    assert (hanako["given_name_kana"], hanako["birth_date"], hanako["jigyosho_id"], Decimal(hanako["weekly_hours"])) \
        == ("ハナコ", "1990-12-01", "js-shiten", 12)
    assert (ichiro["birth_date"], ichiro["hire_date"], Decimal(ichiro["weekly_hours"])) == \
        ("1985-04-01", "2025-04-01", 12)
    # Imported persons carry their eligibility decision too (judged on the later of hire date and today).
    for p, insured in ((taro, True), (hanako, False)):
        d = c.get(f"{BASE}/insured-persons/{p['id']}/eligibility", headers=h).json()
        assert (d["stored"], d["insured"]) == (True, insured)


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_utf8_with_and_without_bom_is_detected_and_undecodable_bytes_are_refused(service_client, tokens):
    c = service_client("koyo_hoken")
    tid = office_tenant()
    h = bearer(tokens.user(tid))
    row = "E{n},山田 太郎,ヤマダ タロウ,1990-04-01,男,2025-04-01,40,1301-111111-1,,,,\r\n"
    assert post(c, h, (HEADER_JA + row.format(n=1)).encode("utf-8"), mapping="ja").json()["encoding"] == "utf-8"
    r = post(c, h, b"\xef\xbb\xbf" + (HEADER_JA + row.format(n=2)).encode("utf-8"), mapping="ja")
    assert (r.status_code, r.json()["encoding"]) == (200, "utf-8-sig")
    assert persons(c, h)["total"] == 2
    bad = post(c, h, HEADER_JA.encode("cp932") + b"\x82\xff\x82\n", mapping="ja")
    assert bad.status_code == 422 and bad.json()["title"] == "CSVの文字コードを判別できません"


def test_a_tenant_saves_its_own_mapping_which_another_tenant_cannot_use(service_client, tokens):
    c = service_client("koyo_hoken")
    tid = office_tenant()
    h = bearer(tokens.user(tid))
    mapping = {"target": "persons", "default_action": "hire",
               "columns": {"社員コード": "employee_number", "漢字氏名": "name", "カナ氏名": "name_kana",
                           "生年月日": "birth_date", "入社年月日": "hire_date", "週労働時間": "weekly_hours",
                           "所属": "jigyosho_name"}}
    assert c.put(f"{BASE}/import-mappings/自社給与", headers=h, json=mapping).status_code == 200
    bad = c.put(f"{BASE}/import-mappings/other", headers=h, json={**mapping, "columns": {"x": "salary"}})
    assert bad.status_code == 422 and "salary" in bad.text
    assert c.put(f"{BASE}/import-mappings/ja", headers=h, json=mapping).status_code == 409
    names = [m["name"] for m in c.get(f"{BASE}/import-mappings", headers=h).json()]
    assert names == ["roumu", "ja", "roumu-wages", "ja-wages", "自社給与"]
    body = ("社員コード,漢字氏名,カナ氏名,生年月日,入社年月日,週労働時間,所属,部署\r\n"
            "A-7,田中 次郎,タナカ ジロウ,1988/02/29,2026/1/5,30,株式会社山田商店,営業\r\n").encode("cp932")
    r = post(c, h, body, mapping="自社給与")
    assert r.status_code == 200 and r.json()["imported_persons"] == 1, r.text
    [p] = persons(c, h)["items"]
    assert (p["employee_number"], p["jigyosho_id"], p["birth_date"]) == ("A-7", "js-honsha", "1988-02-29")
    other = office_tenant()
    r = post(c, bearer(tokens.user(other)), body, mapping="自社給与")
    assert r.status_code == 422 and r.json()["title"] == "取込の列マッピングが見つかりません"
    assert persons(c, bearer(tokens.user(other)))["total"] == 0


WAGES_JA = "従業員番号,区分,賃金計算期間開始日,賃金計算期間終了日,支払基礎日数,月給等,日給・時給等,支給日,賞与\r\n"


def month_rows(first: date, rishoku: date) -> list[str]:
    out, d = [], first
    while d <= rishoku:
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        end = min(nxt - timedelta(days=1), rishoku)
        out.append(f"E100,給与,{d:%Y/%m/%d},{end:%Y/%m/%d},{(end - d).days + 1},\"280,000\",12500,,\r\n")
        d = nxt
    return out


def test_a_rishoku_shomeisho_wage_table_from_imported_wages(service_client, tokens):
    """DOMAIN.md A4 worked example: 離職 2025-10-20, monthly-paid, wages closing on the 末日 → ⑧ rows
    9/21–10/20 back to 2024-10-21–11-20 (12), ⑩ rows 10/1–10/20 (incomplete, not used), then
    9/1–9/30, 8/1–8/31, … with 6 complete months. The bonus is not a row."""
    c = service_client("koyo_hoken")
    tid = office_tenant()
    h = bearer(tokens.user(tid))
    hire = (HEADER_JA + "E100,高橋 三郎,タカハシ サブロウ,1970/1/1,男,2020/4/1,40,1301-111111-1,,,,\r\n")
    assert post(c, h, hire.encode("cp932"), mapping="ja").status_code == 200
    [person] = persons(c, h)["items"]
    rishoku = date(2025, 10, 20)
    rows = month_rows(date(2024, 10, 1), rishoku)
    bonus = "E100,賞与,,,,,,2025/7/10,\"400,000\"\r\n"
    bad = "E999,給与,2025/01/01,2025/01/31,31,1000,0,,\r\n"
    r = post(c, h, (WAGES_JA + "".join(rows) + bonus + bad).encode("cp932"), path="wage-records/import",
             mapping="ja-wages")
    assert r.status_code == 422, r.text
    assert [(e["row"], e["field"], e["message"]) for e in r.json()["result"]["errors"]] == \
        [(len(rows) + 3, "従業員番号", "該当する被保険者が見つかりません")]
    assert c.get(f"{BASE}/insured-persons/{person['id']}/wage-records", headers=h).json() == []
    r = post(c, h, (WAGES_JA + "".join(rows) + bonus).encode("cp932"), path="wage-records/import",
             mapping="ja-wages")
    assert r.status_code == 200 and (r.json()["imported"], r.json()["encoding"]) == (len(rows) + 1, "cp932"), r.text
    # Imported again (a corrected run): replaced, not doubled.
    r = post(c, h, (WAGES_JA + "".join(rows) + bonus).encode("cp932"), path="wage-records/import",
             mapping="ja-wages")
    assert len(c.get(f"{BASE}/insured-persons/{person['id']}/wage-records", headers=h).json()) == len(rows) + 1

    cert = c.get(f"{BASE}/insured-persons/{person['id']}/rishoku-shomeisho", headers=h,
                 params={"rishoku_date": "2025-10-20", "closing_day": 31, "pay_type": "monthly_full"}).json()
    ins = cert["insured_rows"]
    assert len(ins) == 12 and (ins[0]["start"], ins[0]["end"]) == ("2025-09-21", "2025-10-20")
    assert (ins[-1]["start"], ins[-1]["end"]) == ("2024-10-21", "2024-11-20") and cert["requirement_shown"]
    wages = [(w["start"], w["end"], w["complete"], w["qualifying"], w["total"]) for w in cert["wage_rows"]]
    assert wages[:3] == [("2025-10-01", "2025-10-20", False, False, 292500),
                         ("2025-09-01", "2025-09-30", True, True, 292500),
                         ("2025-08-01", "2025-08-31", True, True, 292500)]
    assert len(wages) == 7 and cert["qualifying_wage_rows"] == 6 and cert["wage_rows_sufficient"]
    assert all(w[4] != 400000 for w in wages)  # the bonus is not a wage row
