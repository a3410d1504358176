"""資格喪失届 with 離職証明書 and 転勤届 through the real apps: koyo_hoken hands the procedure to
efiling (a real HTTP server, reached by koyo_hoken's own hand-off call), staff send it, the e-Gov
sandbox takes it to 手続終了 with a 公文書. The package's form XML has the element names, in the
order, of the skeleton the sandbox hands out for the procedure (GET /procedure/{proc_id}); the
離職証明書's 賃金支払状況 rows are koyo_hoken's wage table.

Before these procedures were data in efiling, the hand-off answered 422 efiling-refused
(未対応の手続IDです)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lxml import etree

from services.efiling.app import create_app as create_efiling_app
from services.efiling.egov.client import EgovClient
from tests.conftest import bearer
from tests.gateway.support import ServerThread
from tests.koyo_hoken.support import BASE, MY_NUMBER, frozen, person, tenant
from tests.services.efiling.conftest import files_server, sandbox, sandbox_server  # noqa: F401 - fixtures
from tests.services.efiling.support import efiling_settings
from tests.services.efiling.test_api import link, submit, track
from tests.services.egov_support import SandboxServer, new_account

EFILING = "/api/v1/efiling"
APPLICANT = {"氏名": "社労士 花子", "法人団体名": "花子社会保険労務士事務所"}
MONTHS = [("2024-10-01", "2024-10-31"), ("2024-11-01", "2024-11-30"), ("2024-12-01", "2024-12-31"),
          ("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-28"), ("2025-03-01", "2025-03-31"),
          ("2025-04-01", "2025-04-30"), ("2025-05-01", "2025-05-31"), ("2025-06-01", "2025-06-30"),
          ("2025-07-01", "2025-07-31"), ("2025-08-01", "2025-08-31"), ("2025-09-01", "2025-09-30"),
          ("2025-10-01", "2025-10-20")]


@pytest.fixture
def efiling(settings, sandbox, files_server, monkeypatch) -> Iterator[httpx.Client]:  # noqa: F811
    monkeypatch.setenv("ROUMU_FILES_URL", files_server.url)
    # efiling as a real HTTP server without its worker: the test drives tracking itself.
    app = create_efiling_app(settings=settings, background=False,
                             efiling_settings=efiling_settings(sandbox, worker_enabled=False))
    server = ServerThread(app, http="httptools", loop="asyncio").start()
    monkeypatch.setenv("ROUMU_EFILING_URL", server.url)  # where koyo_hoken's hand-off goes
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            yield c
    finally:
        server.stop()


class _Token:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def refreshed_token(self) -> str:
        return self.token


def skeleton_of(egov: SandboxServer, account: str, proc_id: str) -> dict[str, bytes]:
    with httpx.Client(timeout=30) as http:
        files, _ = EgovClient(egov.api, _Token(egov.token_for(account)["access_token"]), http).procedure(proc_id)
    return dict(files)


def names(el: etree._Element) -> list[str]:
    return [str(c.tag) for c in el if isinstance(c.tag, str)]


def assert_follows_skeleton(skeleton: bytes, form: bytes) -> None:
    """The skeleton's elements, in its order, open the form; where the skeleton lists a block's
    elements the form's block holds exactly those, in that order (blocks no source lists are
    handed out empty: their fields follow the header, in any order)."""
    sk, got = etree.fromstring(skeleton), etree.fromstring(form)
    assert names(got)[:len(names(sk))] == names(sk)
    for el in sk:
        if isinstance(el.tag, str) and len(el):
            found = got.find(el.tag)
            assert found is not None and names(found) == names(el), el.tag


def hand_off_and_file(c, h, efiling: httpx.Client, egov: SandboxServer, settings,
                      pr: dict[str, Any]) -> tuple[str, dict[str, bytes]]:
    """check → ready → hand-off → send → 手続終了: the filing id and its package's files."""
    checked = c.post(f"{BASE}/procedures/{pr['id']}/check", headers={**h, "If-Match": f'"{pr["version"]}"'})
    assert checked.json()["state"] == "checked", checked.json()["problems"]
    ready = c.post(f"{BASE}/procedures/{pr['id']}/ready", headers={**h, "If-Match": checked.headers["etag"]})
    assert ready.json()["state"] == "ready", ready.text
    handed = c.post(f"{BASE}/procedures/{pr['id']}/efiling", headers=h, json={"applicant": APPLICANT})
    assert handed.status_code == 200, handed.text
    fid = handed.json()["filing_id"]
    sent = submit(efiling, h, fid)
    assert sent.status_code == 200, sent.text
    assert sent.json()["filing"]["status"] == "arrived", sent.text
    track(settings, egov)
    got = efiling.get(f"{EFILING}/filings/{fid}", headers=h).json()
    assert got["status"] == "completed" and got["egov_status"] == "手続終了", got
    detail = efiling.get(f"{EFILING}/filings/{fid}/history", headers=h).json()
    [doc] = detail["documents"]
    assert doc["signature_valid"] is True and doc["file_names"]
    [package] = detail["packages"]
    r = efiling.get(f"{EFILING}/filings/{fid}/packages/{package['id']}", headers=h)
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        files = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}
    return fid, files


def assert_soshitsu_package(files: dict[str, bytes], preview: dict[str, Any]) -> None:
    """A 喪失届 + 離職証明書 package: both forms declared, and the 離職証明書's 賃金支払状況 rows (13 slots
    on the sheet) are the wage table koyo_hoken's `rishoku-shomeisho/preview` gives for the same history."""
    kousei = etree.fromstring(files["kousei.xml"])
    assert kousei.findtext("構成情報/管理情報/手続番号/手続ID") == "4950008680035000"
    assert [a.findtext("申請書様式ID") for a in kousei.iterfind("構成情報/申請書属性情報")] == [
        "495008680035800350", "495008680035800351"]
    cert = etree.fromstring(files["495008680035800351_01.xml"]).find("A-250046-004_1")
    assert cert is not None and cert.findtext("離職者氏名") == "山田\u3000太郎"
    rows = cert.findall("賃金支払状況等1") + cert.findall("賃金支払状況等2")
    assert len(rows) == 13
    insured = [(r.findtext("被保険者期間算定対象期間_開始"), r.findtext("被保険者期間算定対象期間_終了"))
               for r in rows if r.findtext("被保険者期間算定対象期間_開始")]
    assert insured == [(x["start"], x["end"]) for x in preview["insured_rows"]]
    wages = [(r.findtext("賃金支払対象期間_開始"), r.findtext("賃金額計")) for r in rows
             if r.findtext("賃金支払対象期間_開始")]
    assert wages and wages == [(x["start"], str(x["total"])) for x in preview["wage_rows"]]
    assert MY_NUMBER.encode() not in files["495008680035800351_01.xml"]


def test_soshitsu_with_rishoku_shomeisho_from_hand_off_to_official_document(service_client, tokens, grants, settings,
                                                                           efiling, sandbox):  # noqa: F811
    c = service_client("koyo_hoken", clock=frozen(2025, 10, 25))
    tid = tenant()
    # The filer discloses the My Number to e-Gov: the hand-off needs the unmasked view (issue 18 item 1).
    grants.seed(tid, "u-1", {"koyo_hoken": "write", "efiling": "write", "my_number_unmasked": "read"})
    h = bearer(tokens.user(tid))
    account = new_account()
    link(efiling, sandbox, h, account)
    p = c.post(f"{BASE}/insured-persons", headers=h, json=person(
        hire_date="2020-04-01", my_number=MY_NUMBER, hihokensha_bango="1234-567890-1"))
    assert p.status_code == 201, p.text
    periods = [{"start": s, "end": e, "basic_days": int(e[-2:]) - int(s[-2:]) + 1, "wages_a": 300000}
               for s, e in MONTHS]
    pr = c.post(f"{BASE}/procedures", headers=h, json={
        "insured_person_id": p.json()["id"], "kind": "shikaku_soshitsu", "event_date": "2025-10-20",
        "with_rishoku_shomeisho": True, "details": {
            "jigyosho_number": "1301-123456-7", "cause": "2", "rishoku_reason_code": "2A",
            "wage_history": {"pay_type": "monthly_full", "closing_day": 31, "periods": periods}}})
    assert pr.status_code == 201, pr.text
    _, files = hand_off_and_file(c, h, efiling, sandbox, settings, pr.json())

    skeleton = skeleton_of(sandbox, account, "4950008680035000")
    for form_id in ("495008680035800350", "495008680035800351"):
        assert_follows_skeleton(skeleton[f"{form_id}_01.xml"], files[f"{form_id}_01.xml"])
    preview = c.post(f"{BASE}/rishoku-shomeisho/preview", headers=h, json={
        "rishoku_date": "2025-10-20", "insured_since": "2020-04-01",
        "wage_history": {"pay_type": "monthly_full", "closing_day": 31, "periods": periods}}).json()
    assert_soshitsu_package(files, preview)


def test_tenkin_from_hand_off_to_official_document(service_client, tokens, grants, settings, efiling,
                                                   sandbox):  # noqa: F811
    c = service_client("koyo_hoken", clock=frozen(2025, 10, 25))
    tid = tenant()
    # The filer discloses the My Number to e-Gov: the hand-off needs the unmasked view (issue 18 item 1).
    grants.seed(tid, "u-1", {"koyo_hoken": "write", "efiling": "write", "my_number_unmasked": "read"})
    h = bearer(tokens.user(tid))
    account = new_account()
    link(efiling, sandbox, h, account)
    p = c.post(f"{BASE}/insured-persons", headers=h, json=person(
        hire_date="2020-04-01", my_number=MY_NUMBER, hihokensha_bango="1234-567890-1"))
    assert p.status_code == 201, p.text
    pr = c.post(f"{BASE}/procedures", headers=h, json={
        "insured_person_id": p.json()["id"], "kind": "tenkin", "event_date": "2025-10-20", "to_jigyosho_id": "js-2",
        "details": {"jigyosho_number": "1301-654321-0", "from_jigyosho_number": "1301-123456-7"}})
    assert pr.status_code == 201, pr.text
    _, files = hand_off_and_file(c, h, efiling, sandbox, settings, pr.json())

    skeleton = skeleton_of(sandbox, account, "4950008680040000")
    assert_follows_skeleton(skeleton["495008680040800400_01.xml"], files["495008680040800400_01.xml"])
    form = etree.fromstring(files["495008680040800400_01.xml"])
    assert form.findtext("転勤年月日/月") == "10" and form.findtext("転勤前の事業所番号/事業所番号6桁") == "123456"
    kousei = etree.fromstring(files["kousei.xml"])
    assert kousei.findtext("構成情報/管理情報/手続番号/手続ID") == "4950008680040000"
