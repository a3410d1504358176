"""資格取得届 end to end against the sandbox over HTTP, and the cases that must never file twice:
a dropped answer, 500 and 503 answers, a crash between writing and calling."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from services.efiling import packages, submission, tracking
from services.efiling.documents import OfficialFile, official_file_id
from services.efiling.models import EgovAccount, FilingEvent, FilingPackage, OfficialDocument, Submission
from shared.db import Database
from shared.errors import ProblemError
from tests.services.efiling.support import (
    FORM,
    PROC,
    filing,
    link_account,
    make_egov,
    new_filing,
    shutoku,
    tenant,
)
from tests.services.egov_support import new_account
from tests.services.support import assert_matches_contract, outbox_payloads


@pytest.fixture
def db(settings):
    d = Database(settings.database_url("efiling"))
    yield d
    d.dispose()


@pytest.fixture
def env(settings, sandbox, db):
    egov, sleeps = make_egov(settings, sandbox)
    t = tenant()
    account = new_account()
    acct_id = link_account(db, egov, sandbox, t, account)
    yield {"egov": egov, "sleeps": sleeps, "tenant": t, "account": account, "acct": acct_id}
    egov.http.close()


def applies(sandbox):
    return sandbox.requests(path="/shinsei/v2/apply", method="POST")


def test_shutoku_to_official_document_stored_and_linked(sandbox, db, env, settings, files_store, files_server,
                                                       tokens):
    egov, account = env["egov"], env["account"]
    fid = new_filing(db, egov, env["tenant"], env["acct"])
    out = submission.submit(db, egov, fid)
    assert out.state == "arrived" and out.arrive_id and out.attempts == 1

    # exactly what was sent: one /apply/check, one /apply, with our package
    assert len(sandbox.requests(path="/shinsei/v2/apply/check")) == 1
    [sent] = applies(sandbox)
    body = json.loads(sent["body"])
    assert body["proc_id"] == PROC and body["send_file"]["file_name"] == f"{PROC}.zip"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(body["send_file"]["file_data"]))) as zf:
        assert sorted(zf.namelist()) == [f"{PROC}/{FORM}_01.xml", f"{PROC}/kousei.xml"]
        kousei = zf.read(f"{PROC}/kousei.xml").decode()
        form = zf.read(f"{PROC}/{FORM}_01.xml").decode()
    assert "<申請種別>新規申請</申請種別>" in kousei and f"<手続ID>{PROC}</手続ID>" in kousei
    assert "<被保険者氏名>山田太郎</被保険者氏名>" in form and "<G00005-A-250045-001_1>" in form
    with db.sessions() as session:
        kept = session.execute(select(FilingPackage).where(FilingPackage.filing_id == fid)).scalar_one()
        # kept sealed (services/efiling/packages.py); opened, it is exactly what was sent
        assert kept.zip_data is None and kept.zip_sealed
        assert base64.b64encode(packages.zip_of(egov.keys, kept)).decode() == body["send_file"]["file_data"]

    store = files_store
    states = [tracking.poll_filing(db, egov, store, fid) for _ in range(3)]
    assert states == ["arrived", "under_review", "completed"]
    assert filing(db, fid).status == "completed"
    with db.sessions() as session:
        [doc] = session.execute(select(OfficialDocument).where(OfficialDocument.filing_id == fid)).scalars()
        assert doc.signature_valid is True and doc.completed_at is not None
        assert doc.egov_verify_result == "正常です。"
        assert doc.blob_id is None and doc.file_id == official_file_id(env["tenant"], fid, doc.notice_sub_id)
    # the 公文書 is in the files service, linked to the filing, and staff download it there
    staff = {"Authorization": f"Bearer {tokens.user(env['tenant'])}"}
    with httpx.Client(base_url=files_server.url) as files:
        listed = files.get("/api/v1/files/files", headers=staff, params={"filing_id": fid}).json()["items"]
        assert [f["id"] for f in listed] == [doc.file_id]
        assert listed[0]["jigyosho_id"] == "js-1" and listed[0]["status"] == "available"
        assert listed[0]["sha256"] == doc.sha256 and listed[0]["original_name"].endswith(f"_{doc.notice_sub_id}.zip")
        r = files.get(f"/api/v1/files/files/{doc.file_id}/content", headers=staff)
        assert r.status_code == 200 and zipfile.ZipFile(io.BytesIO(r.content)).namelist() == doc.file_names
        other = {"Authorization": f"Bearer {tokens.user(tenant())}"}
        assert files.get(f"/api/v1/files/files/{doc.file_id}/content", headers=other).status_code == 404
        # a retry after a crash (stored, not recorded) stores nothing twice
        assert files_store.put(OfficialFile(env["tenant"], doc.file_id, "x.zip", r.content, "js-1", fid)) == doc.file_id
        assert len(files.get("/api/v1/files/files", headers=staff, params={"filing_id": fid}).json()["items"]) == 1
    assert files_store.get(env["tenant"], doc.file_id) == r.content
    assert len(sandbox.requests(path="/shinsei/v2/official_document", method="POST")) == 1
    assert [c["status"] for c in sandbox.cases(account)] == ["手続終了"]

    types = [e["type"] for e in outbox_payloads(settings, "efiling", fid)]
    assert types[:3] == ["roumu.efiling.filing.drafted", "roumu.efiling.filing.submitted",
                         "roumu.efiling.filing.arrived"]
    assert types.count("roumu.efiling.filing.status_changed") == 2
    assert types[-1] == "roumu.efiling.filing.official_document_received"
    for e in outbox_payloads(settings, "efiling", fid):
        assert_matches_contract(e)


def test_dropped_answer_is_reconciled_not_filed_again(sandbox, db, env):
    egov = env["egov"]
    sandbox.fault(kind="drop", path="/shinsei/v2/apply", method="POST")
    fid = new_filing(db, egov, env["tenant"], env["acct"])
    out = submission.submit(db, egov, fid)
    assert out.state == "arrived"
    assert len(applies(sandbox)) == 1 and len(sandbox.cases(env["account"])) == 1
    assert out.arrive_id == sandbox.cases(env["account"])[0]["arrive_id"]
    with db.sessions() as session:
        kinds = [e.kind for e in session.execute(select(FilingEvent).where(FilingEvent.filing_id == fid)
                                                 .order_by(FilingEvent.seq)).scalars()]
        assert kinds[-3:] == ["outcome_unknown", "reconciled", "arrived"]
        assert session.get(EgovAccount, env["acct"]).inflight_filing_id is None


def test_500_after_processing_is_reconciled(sandbox, db, env):
    egov = env["egov"]
    sandbox.fault(kind="500", path="/shinsei/v2/apply", method="POST", when="after")
    fid = new_filing(db, egov, env["tenant"], env["acct"])
    assert submission.submit(db, egov, fid).state == "arrived"
    assert len(applies(sandbox)) == 1 and len(sandbox.cases(env["account"])) == 1


def test_500_and_503_retry_with_backoff_and_one_arrival(sandbox, db, env):
    egov, sleeps = env["egov"], env["sleeps"]
    sandbox.fault(kind="500", path="/shinsei/v2/apply", method="POST")
    sandbox.fault(kind="503", path="/shinsei/v2/apply", method="POST")
    fid = new_filing(db, egov, env["tenant"], env["acct"])
    out = submission.submit(db, egov, fid)
    assert out.state == "arrived" and out.attempts == 3
    assert [r["status"] for r in applies(sandbox)] == [500, 503, 200]
    assert len(sandbox.cases(env["account"])) == 1
    # backed off twice; the 503 (maintenance) wait is drawn from the longer maintenance range
    assert len(sleeps.delays) == 2 and sleeps.delays[1] >= 2.5 > sleeps.delays[0]
    # each unknown outcome was looked up in /apply/lists before the resend
    assert len(sandbox.requests(path="/shinsei/v2/apply/lists")) == 2


def test_crash_between_write_and_call_is_reconciled_first(sandbox, db, env):
    """A worker died after writing `submitting` (before or after its call reached e-Gov)."""
    egov = env["egov"]
    fid = new_filing(db, egov, env["tenant"], env["acct"])
    assert submission.submit(db, egov, fid).state == "arrived"
    # pretend the worker crashed after e-Gov took it: our row still says "submitting"
    with db.transaction() as session:
        sub = session.get(Submission, fid)
        sub.state, sub.arrive_id = "submitting", None
    # while the send may still be in flight nobody looks it up (its case may not be listed yet)
    with pytest.raises(ProblemError) as caught:
        submission.submit(db, egov, fid)
    assert caught.value.status == 409 and caught.value.slug == "send-in-progress"
    # past `stale_send_seconds` it is a crashed send: reconciled, not sent again
    with db.transaction() as session:
        sub = session.get(Submission, fid)
        sub.send_started_at -= timedelta(seconds=egov.settings.stale_send_seconds + 1)
    out = submission.submit(db, egov, fid)
    assert out.state == "arrived" and len(applies(sandbox)) == 1


def test_refused_character_is_reported_before_sending_with_the_field(sandbox, db, env):
    egov = env["egov"]
    with pytest.raises(ProblemError) as caught:
        new_filing(db, egov, env["tenant"], env["acct"], form_data=shutoku(被保険者氏名="髙橋①"))
    err = caught.value
    assert err.status == 422 and err.slug == "egov-character" and err.errors is not None
    assert [e["field"] for e in err.errors] == [f"form_data.{FORM}.被保険者氏名"] * 2
    assert "丸数字" in err.errors[1]["message"] and "「1」" in err.errors[1]["message"]
    assert sandbox.requests(path="/shinsei/v2/*") == []


def test_format_check_failure_stops_before_apply(sandbox, db, env):
    egov = env["egov"]
    sandbox.script(outcome="complete", signature_required=True)
    fid = new_filing(db, egov, env["tenant"], env["acct"])
    out = submission.submit(db, egov, fid)
    assert out.state == "draft" and out.report_list[0]["item"] == "署名情報"
    assert applies(sandbox) == []


def test_correction_then_amend_completes(sandbox, db, env, settings, files_store):
    egov = env["egov"]
    sandbox.script(outcome="correction")
    fid = new_filing(db, egov, env["tenant"], env["acct"])
    submission.submit(db, egov, fid)
    store = files_store
    states = [tracking.poll_filing(db, egov, store, fid) for _ in range(3)]
    assert states == ["arrived", "under_review", "correction_requested"]
    with db.sessions() as session:
        sub = session.get(Submission, fid)
        assert sub.correction_deadline and sub.egov_status == "審査中（補正待ち）"
    [ev] = [e for e in outbox_payloads(settings, "efiling", fid)
            if e["type"] == "roumu.efiling.filing.correction_requested"]
    assert ev["data"]["correction_deadline"] == sub.correction_deadline and ev["data"]["correct_type"] == "部分補正"
    assert submission.amend(db, egov, fid, shutoku(備考="資格取得日を訂正")) == "under_review"
    [sent] = sandbox.requests(path="/shinsei/v2/apply/amend")
    assert json.loads(sent["body"])["arrive_id"] == sub.arrive_id
    states = [tracking.poll_filing(db, egov, store, fid) for _ in range(3)]
    assert states[-1] == "completed"
    with db.sessions() as session:
        assert session.execute(select(OfficialDocument).where(OfficialDocument.filing_id == fid)).scalar_one()


def test_withdrawal(sandbox, db, env, settings, files_store):
    egov = env["egov"]
    sandbox.script(outcome="stay")
    fid = new_filing(db, egov, env["tenant"], env["acct"])
    submission.submit(db, egov, fid)
    assert submission.withdraw(db, egov, fid, "誤って提出したため") == "withdrawing"
    [sent] = sandbox.requests(path="/shinsei/v2/apply/withdraw")
    raw = base64.b64decode(json.loads(sent["body"])["send_file"]["file_data"])
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert "<手続ID>9990000000000003</手続ID>" in zf.read(f"{PROC}/kousei.xml").decode()
        assert "<理由>誤って提出したため</理由>" in zf.read(f"{PROC}/torisageirai.xml").decode()
    store = files_store
    assert tracking.poll_filing(db, egov, store, fid) == "withdrawing"
    assert tracking.poll_filing(db, egov, store, fid) == "withdrawn"
    assert "roumu.efiling.filing.withdrawn" in [e["type"] for e in outbox_payloads(settings, "efiling", fid)]


def test_unknown_status_string_is_kept_without_error(sandbox, db, env, files_store):
    egov = env["egov"]
    sandbox.script(outcome="custom", steps=[{"status": "審査保留"}, {"status": "手続終了"}])
    fid = new_filing(db, egov, env["tenant"], env["acct"])
    submission.submit(db, egov, fid)
    store = files_store
    tracking.poll_filing(db, egov, store, fid)
    assert tracking.poll_filing(db, egov, store, fid) == "arrived"
    with db.sessions() as session:
        assert session.get(Submission, fid).egov_status == "審査保留"
    assert tracking.poll_filing(db, egov, store, fid) == "completed"


def test_tokens_sealed_and_refreshed_before_expiry(settings, sandbox, db, files_store):
    from datetime import UTC, datetime, timedelta

    from shared.clock import FrozenClock

    clock = FrozenClock(datetime.now(UTC))
    egov, _ = make_egov(settings, sandbox, clock=clock)
    t, account = tenant(), new_account()
    acct_id = link_account(db, egov, sandbox, t, account)
    with db.sessions() as session:
        row = session.get(EgovAccount, acct_id)
        assert row.state == "linked" and row.egov_subject == account
        sealed = row.access_token_sealed
    fid = new_filing(db, egov, t, acct_id)
    submission.submit(db, egov, fid)
    assert [json.loads("{}") for r in sandbox.requests(path="/auth/token") if "refresh_token" in r["body"]] == []
    clock.advance(timedelta(minutes=56))  # within the 5-minute margin of the 1-hour token
    tracking.poll_filing(db, egov, files_store, fid)
    refreshes = [r for r in sandbox.requests(path="/auth/token") if "grant_type=refresh_token" in r["body"]]
    assert len(refreshes) == 1
    with db.sessions() as session:
        assert session.get(EgovAccount, acct_id).access_token_sealed != sealed
    egov.http.close()
