"""The e-Gov sandbox over HTTP: OAuth (code + PKCE, refresh, introspect, logout), applications
and their scripted progress, format errors as report_list, notices, 公文書 (signed, verifiable),
amend, withdraw, bulk, the recording, and injected faults."""

from __future__ import annotations

import base64
import io
import zipfile

import httpx
import pytest

from shared import xmldsig
from tests.services.egov_support import CLIENT_ID, CLIENT_SECRET, SHUTOKU_NAME, new_account, simple_package

PROC = "4950008680033000"


def api(sandbox, token):
    return httpx.Client(base_url=sandbox.api, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def apply(c, data=None, proc=PROC):
    return c.post("/apply", json={"proc_id": proc, "send_file": {"file_name": f"{proc}.zip",
                                                                  "file_data": data or simple_package(proc)}})


def test_pkce_refresh_introspect_logout(sandbox):
    account = new_account()
    tok = sandbox.token_for(account)
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600 and tok["refresh_expires_in"] == 15552000
    basic = (CLIENT_ID, CLIENT_SECRET)
    r = sandbox.http.post("/auth/token/introspect", auth=basic, data={"token": tok["access_token"]})
    assert r.json()["active"] is True and r.json()["sub"] == account
    # refresh: a new pair, the old refresh token stops working
    r = sandbox.http.post("/auth/token", auth=basic, data={"grant_type": "refresh_token",
                                                          "refresh_token": tok["refresh_token"]})
    new = r.json()
    assert r.status_code == 200 and new["refresh_token"] != tok["refresh_token"]
    r = sandbox.http.post("/auth/token", auth=basic, data={"grant_type": "refresh_token",
                                                          "refresh_token": tok["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # wrong client secret: OAuth-shaped 401
    r = sandbox.http.post("/auth/token/introspect", auth=(CLIENT_ID, "wrong"), data={"token": new["access_token"]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    with api(sandbox, new["access_token"]) as c:
        assert c.get("/apply/lists", params={"date_from": "2026-01-01", "date_to": "2026-01-02"}).status_code == 200
    # logout: 204, both tokens dead
    r = sandbox.http.post("/auth/logout", auth=basic, data={"refresh_token": new["refresh_token"]})
    assert r.status_code == 204
    with api(sandbox, new["access_token"]) as c:
        r = c.get("/apply/lists", params={"date_from": "2026-01-01", "date_to": "2026-01-02"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


def test_pkce_verifier_must_match(sandbox):
    r = sandbox.http.get("/auth/auth", params={
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": "http://127.0.0.1/cb", "state": "x",
        "code_challenge": "A" * 43, "code_challenge_method": "S256"})
    code = httpx.URL(r.headers["location"]).params["code"]
    r = sandbox.http.post("/auth/token", auth=(CLIENT_ID, CLIENT_SECRET), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1/cb",
        "code_verifier": "B" * 43})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_apply_progresses_to_a_signed_official_document(sandbox):
    account = new_account()
    tok = sandbox.token_for(account)["access_token"]
    with api(sandbox, tok) as c:
        r = apply(c)
        assert r.status_code == 200, r.text
        arrive_id = r.json()["results"]["arrive_id"]
        assert r.json()["results"]["apply_type"] == "新規申請"
        assert r.json()["_links"]["status"] == f"/shinsei/v2/apply/{arrive_id}"
        seen = [c.get(f"/apply/{arrive_id}").json()["results"]["status"] for _ in range(4)]
        assert seen == ["到達", "審査中", "手続終了", "手続終了"]
        case = c.get(f"/apply/{arrive_id}").json()["results"]
        assert case["doc_count"] == 1 and case["withdraw_flag"] is False
        [doc] = case["official_list"]
        assert doc["sign"] == "あり" and "doc_download_date" not in doc  # output only once downloaded
        r = c.get(f"/official_document/{arrive_id}/{doc['notice_sub_id']}")
        body = r.json()
        assert body["_links"]["complete"] == "/shinsei/v2/official_document"
        raw = base64.b64decode(body["results"]["file_data"])
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            signed = zf.read("comment_doc1.xml")
        assert xmldsig.verify_enveloped(signed).certificate_count == 2
        v = c.post("/official_document/verify", json={"file_name": "doc.zip", "file_data": body["results"]["file_data"],
                                                      "sig_verification_xml_file_name": "comment_doc1.xml"}).json()
        assert v["results"]["verify_result"][0]["official"]["validation_result"] == "正常です。"
        r = c.post("/official_document", json={"arrive_id": arrive_id, "notice_sub_id": doc["notice_sub_id"]})
        assert r.status_code == 200 and r.json()["results"]["download_date"]
        assert c.get(f"/apply/{arrive_id}").json()["results"]["official_list"][0]["doc_download_date"]
    # another account cannot see the case: a bare 404
    with api(sandbox, sandbox.token_for(new_account())["access_token"]) as c:
        r = c.get(f"/apply/{arrive_id}")
        assert r.status_code == 404 and r.content == b""


def test_format_errors_are_report_list_items(sandbox):
    tok = sandbox.token_for(new_account())["access_token"]
    with api(sandbox, tok) as c:
        data = simple_package(attachments={}, declare=["雇用契約書.pdf"])
        r = c.post("/apply/check", json={"proc_id": PROC, "send_file": {"file_name": "a.zip", "file_data": data}})
        assert r.status_code == 200
        res = r.json()["results"]
        assert res["error_count"] == 1 and res["report_list"][0]["attached_file_name"] == "雇用契約書.pdf"
        r = apply(c, data)
        assert r.status_code == 400 and r.json()["report_list"][0]["content"] == "宣言された添付書類がありません"
        r = apply(c, simple_package(kousei_proc_id="4950008680034000"))
        assert r.status_code == 400 and r.json()["report_list"][0]["item"] == "手続ID"
        r = apply(c, simple_package(root="WRONGROOT0000000"))
        assert r.status_code == 400
        assert sandbox.cases() == []
        ok = simple_package(attachments={"雇用契約書.pdf": b"%PDF-1.4"})
        r = c.post("/apply/check", json={"proc_id": PROC, "send_file": {"file_name": "a.zip", "file_data": ok}})
        assert r.json()["results"]["error_count"] == 0


def test_correction_then_amend_completes(sandbox):
    sandbox.script(outcome="correction", advance="manual")
    tok = sandbox.token_for(new_account())["access_token"]
    with api(sandbox, tok) as c:
        arrive_id = apply(c).json()["results"]["arrive_id"]
        sandbox.advance(arrive_id)
        assert sandbox.advance(arrive_id)["status"] == "審査中（補正待ち）"
        case = c.get(f"/apply/{arrive_id}").json()["results"]
        [n] = case["notice_list"]
        assert n["notice_data_type"] == "補正" and n["correct_expired_date"]
        detail = c.get(f"/notice/{arrive_id}/{n['notice_sub_id']}").json()["results"]["notice"]
        assert detail["correct_type"] == "部分補正"
        # the amend package must be a 部分補正 of this arrive_id
        bad = c.post("/apply/amend", json={"arrive_id": arrive_id, "send_file": {
            "file_name": "a.zip", "file_data": simple_package(apply_type="部分補正")}})
        assert bad.status_code == 400
        r = c.post("/apply/amend", json={"arrive_id": arrive_id, "send_file": {
            "file_name": "a.zip", "file_data": simple_package(apply_type="部分補正", first_arrive_id=arrive_id)}})
        assert r.status_code == 200 and r.json()["results"]["arrive_id"] == arrive_id
        assert sandbox.advance(arrive_id)["status"] == "審査中"
        assert sandbox.advance(arrive_id)["status"] == "手続終了"


def withdraw_package(arrive_id):
    kousei = (
        '<?xml version="1.0" encoding="UTF-8"?><DataRoot><様式ID>999000000000000009</様式ID>'
        '<構成情報 ID="構成情報"><管理情報><手続番号><受付行政機関ID/><手続ID>9990000000000003</手続ID></手続番号>'
        f"<手続名称>{SHUTOKU_NAME}</手続名称><初回受付番号>{arrive_id}</初回受付番号>"
        "<申請種別>取下げ依頼</申請種別></管理情報><申請書属性情報><申請書様式ID>999000000000000003</申請書様式ID>"
        "<申請書様式バージョン>0001</申請書様式バージョン><申請書様式名称>取下げ依頼XML</申請書様式名称>"
        "<申請書ファイル名称>torisageirai.xml</申請書ファイル名称></申請書属性情報></構成情報></DataRoot>")
    form = '<?xml version="1.0" encoding="UTF-8"?><DataRoot><様式ID>999000000000000003</様式ID></DataRoot>'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{PROC}/kousei.xml", kousei)
        zf.writestr(f"{PROC}/torisageirai.xml", form)
    return base64.b64encode(buf.getvalue()).decode()


def test_withdraw(sandbox):
    sandbox.script(outcome="stay", advance="manual")
    tok = sandbox.token_for(new_account())["access_token"]
    with api(sandbox, tok) as c:
        arrive_id = apply(c).json()["results"]["arrive_id"]
        r = c.post("/apply/withdraw", json={"arrive_id": arrive_id, "send_file": {
            "file_name": "w.zip", "file_data": withdraw_package(arrive_id)}})
        assert r.status_code == 200, r.text
        assert c.get(f"/apply/{arrive_id}").json()["results"]["status"] == "到達（取下げ処理中）"
        assert sandbox.advance(arrive_id)["status"] == "取下げ済"
        r = c.post("/apply/withdraw", json={"arrive_id": arrive_id, "send_file": {
            "file_name": "w.zip", "file_data": withdraw_package(arrive_id)}})
        assert r.status_code == 400  # withdraw_flag is now false


def test_faults_and_recording(sandbox):
    account = new_account()
    tok = sandbox.token_for(account)["access_token"]
    with api(sandbox, tok) as c:
        sandbox.fault(kind="503", path="/shinsei/v2/apply", method="POST")
        r = apply(c)
        assert r.status_code == 503 and r.json()["title"] == "Service Unavailable"
        assert sandbox.cases(account) == []  # before: nothing processed
        sandbox.fault(kind="500", path="/shinsei/v2/apply", method="POST", when="after")
        assert apply(c).status_code == 500
        assert len(sandbox.cases(account)) == 1  # after: processed, then a 500
        sandbox.fault(kind="drop", path="/shinsei/v2/apply", method="POST")
        with pytest.raises(httpx.TransportError):
            apply(c)
        assert len(sandbox.cases(account)) == 2  # processed, answer never came
    recorded = sandbox.requests(path="/shinsei/v2/apply", method="POST")
    assert [(r["status"], r["fault"]) for r in recorded] == [(503, "503"), (200, "500"), (200, "drop")]
    assert recorded[0]["headers"]["authorization"] == "Bearer ***"
    assert '"proc_id":"4950008680033000"' in recorded[0]["body"].replace(" ", "")


def test_bulk_apply_and_report(sandbox):
    account = new_account()
    tok = sandbox.token_for(account)["access_token"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, pkg in enumerate([simple_package(), simple_package(declare=["missing.pdf"]), simple_package()]):
            with zipfile.ZipFile(io.BytesIO(base64.b64decode(pkg))) as inner:
                for name in inner.namelist():
                    zf.writestr(f"app{i:04d}/{name}", inner.read(name))
    with api(sandbox, tok) as c:
        r = c.post("/bulk-apply", json={"send_file": {"file_name": "bulk.zip",
                                                      "file_data": base64.b64encode(buf.getvalue()).decode()}})
        assert r.status_code == 202, r.text
        send_number = r.json()["results"]["send_number"]
        assert len(send_number) == 18 and r.json()["results"]["apply_count"] == 3
        rep = c.get("/apply/report", params={"send_number": send_number}).json()["results"]["error_report_info"][0]
        assert (rep["arrive_count"], rep["error_count"]) == (2, 1)
        by_folder = {x["folder_name"]: x for x in rep["result"]}
        assert by_folder["app0001"]["arrive_id"] == "-" and by_folder["app0001"]["report_list"]
        lst = c.get("/apply/lists", params={"send_number": send_number}).json()
        assert lst["resultset"]["all_count"] == 2
        assert {i["arrive_id"] for i in lst["results"]["apply_list"]} == {
            by_folder["app0000"]["arrive_id"], by_folder["app0002"]["arrive_id"]}
