"""The efiling HTTP API against the e-Gov sandbox (a real HTTP server): accounts linked through
OAuth + PKCE, filings asked for by koyo_hoken with a service token, sent by staff with
Idempotency-Key and If-Match, tracked, their history, package and 公文書 downloaded; 事業所 scope;
amend, withdraw and bulk; and the app's own worker taking a lost send and a case to 手続終了."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.efiling import tracking
from services.efiling.documents import FilesStore
from shared.clock import FrozenClock
from shared.db import Database
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER
from tests.conftest import bearer
from tests.services.efiling.support import APPLICANT, FORM, PROC, efiling_settings, make_egov, shutoku
from tests.services.egov_support import SandboxServer, new_account
from tests.services.support import assert_matches_contract, outbox_payloads

BASE = "/api/v1/efiling"


def forms(**over: Any) -> list[dict[str, Any]]:
    return [{"form_id": FORM, "version": "0001", "fields": shutoku(**over)[FORM]}]


def body(jigyosho: str = "js-1", **over: Any) -> dict[str, Any]:
    return {"jigyosho_id": jigyosho, "procedure_code": PROC, "forms": forms(), "applicant": APPLICANT, **over}


@pytest.fixture
def api(service_client, sandbox, settings, files_server, monkeypatch):
    # efiling stores 公文書 in the files service it finds at ROUMU_FILES_URL (a real server here)
    monkeypatch.setenv("ROUMU_FILES_URL", files_server.url)

    def open_app(**over: Any):
        cfg = efiling_settings(sandbox, **{"worker_enabled": False, **over.pop("cfg", {})})
        return service_client("efiling", efiling_settings=cfg, **over)

    return open_app


def link(c, sandbox: SandboxServer, headers: dict[str, str], account: str, label: str = "事務所") -> str:
    r = c.post(f"{BASE}/egov-accounts", headers=headers, json={"label": label, "login_hint": account})
    assert r.status_code == 201, r.text
    url = r.json()["authorization_url"]
    q = parse_qs(urlsplit(url).query)
    assert q["code_challenge_method"] == ["S256"] and q["state"] and q["code_challenge"]
    assert r.json()["account"]["state"] == "pending"
    back = sandbox.http.get(url)
    assert back.status_code == 302
    got = parse_qs(urlsplit(back.headers["location"]).query)
    r = c.post(f"{BASE}/egov-accounts/callback", headers=headers,
               json={"code": got["code"][0], "state": got["state"][0]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "linked" and r.json()["egov_subject"] == account
    return str(r.json()["id"])


def submit(c, headers: dict[str, str], fid: str, key: str | None = None, etag: str | None = None, **kw: Any):
    if etag is None:
        etag = c.get(f"{BASE}/filings/{fid}", headers=headers).headers["etag"]
    h = {**headers, "If-Match": etag, "Idempotency-Key": key or str(uuid.uuid4())}
    return c.post(f"{BASE}/filings/{fid}/submit", headers=h, **kw)


def track(settings, sandbox: SandboxServer, passes: int = 3, files_url: str | None = None) -> None:
    egov, _ = make_egov(settings, sandbox)
    db = Database(settings.database_url("efiling"))
    store = FilesStore(files_url or settings.service_url("files"), settings.keys_dir)
    try:
        for _ in range(passes):
            tracking.track_once(db, egov, store)
    finally:
        db.dispose()
        egov.http.close()
        store.close()


def test_requested_by_koyo_hoken_sent_by_staff_tracked_and_downloaded(api, sandbox, tokens, settings):
    c = api()
    tenant, account = str(uuid.uuid4()), new_account()
    staff = bearer(tokens.user(tenant))
    acct_id = link(c, sandbox, staff, account)

    # koyo_hoken asks for the filing: its procedure id is the Idempotency-Key
    procedure_id = str(uuid.uuid4())
    svc = {**bearer(tokens.service("koyo_hoken", "efiling", tenant)), "Idempotency-Key": procedure_id}
    r = c.post(f"{BASE}/filings", headers=svc, json=body())
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["source"] == "koyo_hoken" and created["egov_account_id"] == acct_id
    assert created["status"] == "draft" and created["title"].startswith("雇用保険被保険者資格取得届")
    again = c.post(f"{BASE}/filings", headers=svc, json=body())
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    fid = created["id"]

    # sending needs an Idempotency-Key and the current ETag
    r = c.post(f"{BASE}/filings/{fid}/submit", headers={**staff, "If-Match": '"1"'})
    assert r.status_code == 428 and r.json()["type"].endswith("/idempotency-key-required")
    r = c.post(f"{BASE}/filings/{fid}/submit", headers={**staff, "Idempotency-Key": "k-0"})
    assert r.status_code == 428 and r.json()["title"] == "If-Match ヘッダーが必要です"
    r = submit(c, staff, fid, "k-0", etag='"99"')
    assert r.status_code == 412 and r.headers["content-type"].startswith("application/problem+json")
    r = submit(c, staff, fid, "k-1")
    assert r.status_code == 200, r.text
    sent = r.json()["filing"]
    assert sent["status"] == "arrived" and sent["arrive_id"] and sent["attempts"] == 1
    # a retry of the same request answers the state and sends nothing
    r = submit(c, staff, fid, "k-1", etag='"1"')
    assert r.status_code == 200 and r.headers["idempotent-replayed"] == "true"
    assert r.json()["filing"]["arrive_id"] == sent["arrive_id"]
    # another key on a sent filing is refused
    r = submit(c, staff, fid, "k-2")
    assert r.status_code == 409 and r.json()["type"].endswith("/already-submitted")
    assert len(sandbox.requests(path="/shinsei/v2/apply", method="POST")) == 1

    track(settings, sandbox)
    r = c.get(f"{BASE}/filings/{fid}", headers=staff)
    assert r.json()["status"] == "completed" and r.json()["egov_status"] == "手続終了"

    r = c.get(f"{BASE}/filings/{fid}/history", headers=staff)
    assert r.status_code == 200
    detail = r.json()
    kinds = [h["kind"] for h in detail["history"]]
    assert kinds[:3] == ["submit_requested", "send", "arrived"] and "official_document" in kinds
    assert all("idempotency_key" not in h["detail"] for h in detail["history"])
    [pkg] = detail["packages"]
    [doc] = detail["documents"]
    assert doc["signature_valid"] is True and doc["completed_at"] and doc["egov_verify_result"] == "正常です。"

    r = c.get(f"{BASE}/filings/{fid}/packages/{pkg['id']}", headers=staff)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    [apply] = sandbox.requests(path="/shinsei/v2/apply", method="POST")
    assert base64.b64encode(r.content).decode() == json.loads(apply["body"])["send_file"]["file_data"]
    r = c.get(f"{BASE}/filings/{fid}/documents/{doc['id']}", headers=staff)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(r.content)).namelist() == doc["file_names"]
    assert f'filename="{sent["arrive_id"]}_' in r.headers["content-disposition"]

    r = c.get(f"{BASE}/filings", headers=staff, params={"status": "completed", "procedure_code": PROC})
    assert [i["id"] for i in r.json()["items"]] == [fid] and r.json()["total"] == 1
    assert c.get(f"{BASE}/filings", headers=staff, params={"status": "draft"}).json()["total"] == 0

    # every event names the filing and koyo_hoken's procedure, and matches its contract
    payloads = outbox_payloads(settings, "efiling", fid)
    assert {e["type"] for e in payloads} >= {"roumu.efiling.filing.drafted", "roumu.efiling.filing.submitted",
                                            "roumu.efiling.filing.official_document_received"}
    for e in payloads:
        assert e["subject"]["filing_id"] == fid and e["subject"]["idempotency_key"] == procedure_id
        assert e["subject"]["source"] == "koyo_hoken"
        assert_matches_contract(e)


def test_callers_and_request_checks(api, sandbox, tokens):
    c = api()
    tenant = str(uuid.uuid4())
    staff = bearer(tokens.user(tenant))
    link(c, sandbox, staff, new_account())
    # only koyo_hoken and jimukumiai may ask with a service token, and only with a key
    r = c.post(f"{BASE}/filings", headers={**bearer(tokens.service("files", "efiling", tenant)),
                                           "Idempotency-Key": "p-1"}, json=body())
    assert r.status_code == 403
    r = c.post(f"{BASE}/filings", headers=bearer(tokens.service("jimukumiai", "efiling", tenant)), json=body())
    assert r.status_code == 428
    # a character e-Gov refuses is reported before anything exists, with its field in the request
    r = c.post(f"{BASE}/filings", headers=staff, json=body(forms=forms(被保険者氏名="髙橋①")))
    assert r.status_code == 422 and r.json()["type"].endswith("/egov-character")
    assert {e["field"] for e in r.json()["errors"]} == {"body.forms.0.fields.被保険者氏名"}
    assert r.json()["title"] == "e-Gov で使えない文字が含まれています"
    # a missing required field, a form of another procedure, an unknown procedure
    fields = shutoku()[FORM]
    del fields["被保険者氏名"]
    r = c.post(f"{BASE}/filings", headers=staff, json=body(forms=[{"form_id": FORM, "fields": fields}]))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.forms.0.fields.被保険者氏名"
    r = c.post(f"{BASE}/filings", headers=staff, json=body(forms=[{"form_id": "9" * 18, "fields": {}}]))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.forms.0.form_id"
    r = c.post(f"{BASE}/filings", headers=staff, json=body(procedure_code="950A010002012000"))
    assert r.status_code == 422 and r.json()["type"].endswith("/unknown-procedure")
    r = c.post(f"{BASE}/filings", headers=staff, json={**body(), "applicant": {"氏名": "x", "年齢": "3"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.applicant"
    # a filing without forms cannot be sent
    r = c.post(f"{BASE}/filings", headers=staff, json={"jigyosho_id": "js-1", "procedure_code": PROC})
    assert r.status_code == 201 and r.json()["title"] == PROC
    r = submit(c, staff, r.json()["id"])
    assert r.status_code == 409 and r.json()["type"].endswith("/no-form-data")
    assert sandbox.requests(path="/shinsei/v2/apply", method="POST") == []


def test_scope_404_outside_the_grant_and_403_without_the_menu(api, sandbox, tokens, grants):
    c = api()
    tenant = str(uuid.uuid4())
    admin = bearer(tokens.user(tenant))
    link(c, sandbox, admin, new_account())
    mine = c.post(f"{BASE}/filings", headers=admin, json=body("js-A")).json()
    other = c.post(f"{BASE}/filings", headers=admin, json=body("js-B")).json()
    grants.seed(tenant, "u-2", {"efiling": "write"}, jigyosho_all=False, jigyosho_ids=["js-A"])
    narrow = bearer(tokens.user(tenant, "u-2"))
    assert [i["id"] for i in c.get(f"{BASE}/filings", headers=narrow).json()["items"]] == [mine["id"]]
    assert c.get(f"{BASE}/filings", headers=narrow, params={"jigyosho_id": "js-B"}).json()["total"] == 0
    # The list links its next page (issue #28), with the same filters; none after the last.
    page = c.get(f"{BASE}/filings", headers=admin, params={"limit": 1, "jigyosho_id": "js-A"}).json()
    assert page["total"] == 1 and page["next"] is None
    page = c.get(f"{BASE}/filings", headers=admin, params={"limit": 1}).json()
    assert page["next"] == f"{BASE}/filings?limit=1&offset=1"
    assert [i["id"] for i in c.get(page["next"], headers=admin).json()["items"]] == [mine["id"]]
    for path in ("", "/history", "/packages/x", "/documents/x"):
        r = c.get(f"{BASE}/filings/{other['id']}{path}", headers=narrow)
        assert r.status_code == 404 and r.json()["title"] == "指定されたリソースが見つかりません"
    assert submit(c, narrow, other["id"], etag='"1"').status_code == 404
    r = c.post(f"{BASE}/filings/bulk-submit", headers={**narrow, "Idempotency-Key": "b"},
               json={"filing_ids": [mine["id"], other["id"]]})
    assert r.status_code == 404
    assert c.post(f"{BASE}/filings", headers=narrow, json=body("js-B")).status_code == 404
    # another tenant's id is 404 too
    assert c.get(f"{BASE}/filings/{mine['id']}", headers=bearer(tokens.user(str(uuid.uuid4())))).status_code == 404
    # linking accounts needs every 事業所; without the menu, nothing
    assert c.post(f"{BASE}/egov-accounts", headers=narrow, json={"label": "x"}).status_code == 403
    grants.seed(tenant, "u-3", {"koyo_hoken": "write"})
    r = c.get(f"{BASE}/filings", headers=bearer(tokens.user(tenant, "u-3")))
    assert r.status_code == 403 and r.json()["title"] == "この操作を行う権限がありません"


def test_a_partner_syncs_filings_by_updated_since_and_follows_next(api, sandbox, tokens):
    """Issue #28: the filings list had `next` but no `sort` and no `updated_since`, so a partner
    re-read every filing to find the one whose status changed."""
    c = api()
    tenant = str(uuid.uuid4())
    staff = bearer(tokens.user(tenant))
    link(c, sandbox, staff, new_account())
    ids = [c.post(f"{BASE}/filings", headers=staff, json=body()).json()["id"] for _ in range(3)]
    reader = bearer(tokens.access.sign({"sub": f"pc_{uuid.uuid4().hex[:12]}", "tid": tenant, "typ": "partner",
                                        "scope": "filings:read", "aud": ACCESS_AUDIENCE,
                                        "iss": ACCESS_ISSUER}, 300))
    first = c.get(f"{BASE}/filings", headers=reader, params={"sort": "created_at", "limit": 2}).json()
    assert [f["id"] for f in first["items"]] == ids[:2]
    assert first["next"] == f"{BASE}/filings?sort=created_at&limit=2&offset=2"
    assert [f["id"] for f in c.get(first["next"], headers=reader).json()["items"]] == ids[2:]
    untouched = first["items"][0]
    assert untouched["updated_at"] == untouched["created_at"]

    since = datetime.now(UTC).isoformat()
    sandbox.script(outcome="stay")
    assert submit(c, staff, ids[1]).json()["filing"]["status"] == "arrived"
    synced = c.get(f"{BASE}/filings", headers=reader, params={"sort": "updated_at", "updated_since": since}).json()
    assert [f["id"] for f in synced["items"]] == [ids[1]] and synced["next"] is None
    changed = synced["items"][0]
    assert changed["status"] == "arrived"
    assert datetime.fromisoformat(changed["updated_at"]) >= datetime.fromisoformat(since)
    newest = c.get(f"{BASE}/filings", headers=reader, params={"sort": "-updated_at", "limit": 1}).json()
    assert newest["items"][0]["id"] == ids[1] and newest["total"] == 3
    # the default stays newest created first
    assert [f["id"] for f in c.get(f"{BASE}/filings", headers=reader).json()["items"]] == ids[::-1]
    naive = c.get(f"{BASE}/filings", headers=reader, params={"updated_since": "2026-04-01T00:00:00"})
    assert naive.status_code == 422 and naive.headers["content-type"] == "application/problem+json"
    assert c.get(f"{BASE}/filings", headers=reader, params={"sort": "title"}).status_code == 422


def test_amend_withdraw_and_bulk_over_http(api, sandbox, tokens, settings):
    c = api()
    tenant = str(uuid.uuid4())
    staff = bearer(tokens.user(tenant))
    link(c, sandbox, staff, new_account())

    sandbox.script(outcome="correction")
    fid = c.post(f"{BASE}/filings", headers=staff, json=body()).json()["id"]
    assert submit(c, staff, fid).json()["filing"]["status"] == "arrived"
    track(settings, sandbox)
    got = c.get(f"{BASE}/filings/{fid}", headers=staff)
    assert got.json()["status"] == "correction_requested" and got.json()["correction_deadline"]
    detail = c.get(f"{BASE}/filings/{fid}/history", headers=staff).json()
    assert [n["notice_type"] for n in detail["notices"]] == ["補正"]
    amend = {"forms": forms(備考="資格取得日を訂正")}
    assert c.post(f"{BASE}/filings/{fid}/amend", headers=staff, json=amend).status_code == 428
    r = c.post(f"{BASE}/filings/{fid}/amend", headers={**staff, "If-Match": got.headers["etag"]}, json=amend)
    assert r.status_code == 200 and r.json()["status"] == "under_review"
    r = c.post(f"{BASE}/filings/{fid}/amend", headers={**staff, "If-Match": r.headers["etag"]}, json=amend)
    assert r.status_code == 409 and r.json()["title"] == "この申請は補正を求められていません"
    assert len(sandbox.requests(path="/shinsei/v2/apply/amend")) == 1

    sandbox.script(outcome="stay")
    wid = c.post(f"{BASE}/filings", headers=staff, json=body()).json()["id"]
    submit(c, staff, wid)
    etag = c.get(f"{BASE}/filings/{wid}", headers=staff).headers["etag"]
    r = c.post(f"{BASE}/filings/{wid}/withdraw", headers={**staff, "If-Match": etag},
               json={"reason": "誤って提出したため"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawing"
    track(settings, sandbox, passes=2)
    assert c.get(f"{BASE}/filings/{wid}", headers=staff).json()["status"] == "withdrawn"

    sandbox.script(outcome="complete")
    ids = [c.post(f"{BASE}/filings", headers=staff, json=body()).json()["id"] for _ in range(3)]
    h = {**staff, "Idempotency-Key": "bulk-1"}
    r = c.post(f"{BASE}/filings/bulk-submit", headers=h, json={"filing_ids": ids})
    assert r.status_code == 200, r.text
    first = r.json()
    assert len(first["bulk_send_ids"]) == 1 and {i["status"] for i in first["items"]} == {"arrived"}
    again = c.post(f"{BASE}/filings/bulk-submit", headers=h, json={"filing_ids": ids}).json()
    assert again["bulk_send_ids"] == [] and again["items"] == first["items"]
    assert len(sandbox.requests(path="/shinsei/v2/bulk-apply")) == 1
    assert c.post(f"{BASE}/filings/bulk-submit", headers=staff, json={"filing_ids": ids}).status_code == 428


def wait_for(c, headers: dict[str, str], fid: str, status: str, worker_passes: int = 400) -> dict[str, Any]:
    """Read the filing until it reaches `status`, bounded by the worker's passes (not by time)."""
    worker = c.app.state.runtime.extras["efiling"].worker
    start = worker.passes
    while True:
        detail = c.get(f"{BASE}/filings/{fid}/history", headers=headers).json()
        got = detail["filing"]
        # 手続終了 is recorded first, its 公文書 right after: wait for both
        settled = status != "completed" or (detail["documents"] and all(d["completed_at"]
                                                                       for d in detail["documents"]))
        if (got["status"] == status and settled) or worker.passes - start > worker_passes:
            return dict(got)
        time.sleep(0.02)


def test_the_running_app_reconciles_a_lost_send_and_tracks_it_to_the_end(api, sandbox, tokens, settings):
    """No call to track_once here: the app's lifespan worker does it all."""
    c = api(cfg={"worker_enabled": True, "worker_interval_seconds": 0.02})
    tenant = str(uuid.uuid4())
    staff = bearer(tokens.user(tenant))
    link(c, sandbox, staff, new_account())
    sandbox.fault(kind="drop", path="/shinsei/v2/apply", method="POST")
    fid = c.post(f"{BASE}/filings", headers=staff, json=body()).json()["id"]
    r = submit(c, staff, fid)
    assert r.status_code == 200 and r.json()["filing"]["status"] == "unknown"
    done = wait_for(c, staff, fid, "completed")
    assert done["status"] == "completed" and done["egov_status"] == "手続終了"
    assert len(sandbox.requests(path="/shinsei/v2/apply", method="POST")) == 1
    kinds = [h["kind"] for h in c.get(f"{BASE}/filings/{fid}/history", headers=staff).json()["history"]]
    assert "reconciled" in kinds and kinds.count("send") == 1 and "official_document" in kinds
    types = [e["type"] for e in outbox_payloads(settings, "efiling", fid)]
    assert types.count("roumu.efiling.filing.submitted") == 1
    assert types.index("roumu.efiling.filing.official_document_received") > types.index(
        "roumu.efiling.filing.submitted")


def test_the_worker_follows_the_injected_clock_and_waits_out_maintenance(api, sandbox, tokens):
    clock = FrozenClock(datetime.now(UTC))
    c = api(clock=clock, cfg={"worker_enabled": True, "worker_interval_seconds": 0.02,
                              "poll_interval_seconds": 60})
    tenant = str(uuid.uuid4())
    staff = bearer(tokens.user(tenant))
    link(c, sandbox, staff, new_account())
    sandbox.fault(kind="503", path="/shinsei/v2/apply", method="POST")
    fid = c.post(f"{BASE}/filings", headers=staff, json=body()).json()["id"]
    assert submit(c, staff, fid).json()["filing"]["status"] == "unknown"
    worker = c.app.state.runtime.extras["efiling"].worker
    start = worker.passes
    while worker.passes < start + 5:
        time.sleep(0.02)
    # the maintenance backoff has not passed on the app's clock: nothing looked up, nothing resent
    assert sandbox.requests(path="/shinsei/v2/apply/lists") == []
    assert c.get(f"{BASE}/filings/{fid}", headers=staff).json()["status"] == "unknown"
    clock.advance(timedelta(minutes=10))
    got = wait_for(c, staff, fid, "arrived")
    assert got["status"] == "arrived" and got["attempts"] == 2
    assert [r["status"] for r in sandbox.requests(path="/shinsei/v2/apply", method="POST")] == [503, 200]
    # arrival schedules a read at once; the next one waits for the poll interval on that clock
    path = f"/shinsei/v2/apply/{got['arrive_id']}"
    assert until(worker, lambda: len(sandbox.requests(path=path)) >= 1)
    reads = len(sandbox.requests(path=path))
    start = worker.passes
    while worker.passes < start + 5:
        time.sleep(0.02)
    assert len(sandbox.requests(path=path)) == reads
    clock.advance(timedelta(minutes=30))
    assert until(worker, lambda: len(sandbox.requests(path=path)) > reads)


def until(worker: Any, check: Any, passes: int = 400) -> bool:
    start = worker.passes
    while not check():
        if worker.passes - start > passes:
            return False
        time.sleep(0.02)
    return True
