"""e-Gov filing end to end through the gateway (issue 19, must show), as `make run` runs it: every
service, the gateway, NATS and the e-Gov sandbox as separate processes, reached through the gateway
only (the sandbox's own port is used for what a person does at e-Gov — the OAuth consent — and for
its demo CA and recording, never to drive Roumu).

* A 資格喪失届 with 離職証明書 (its 賃金支払状況 rows = koyo_hoken's wage table) and a 転勤届 go from
  koyo_hoken (procedure → check → ready with If-Match → hand to e-filing) through e-filing's submit to
  手続終了; the 公文書 is downloaded through the gateway and verified by xmlsec1 against the sandbox's CA.
* A filing carrying two attachments uploaded through the gateway's files API, signed with the office
  certificate uploaded through the gateway: the sandbox (signature required) verifies every Reference,
  an attachment's included; the downloaded package's Reference digests are recomputed here.

xmlsec1 does not verify the downloaded kousei.xml itself: it carries e-Gov's percent-encoded
`#構成情報` fragment, which xmlsec1 1.2.x does not decode (tests/services/efiling/test_xmldsig_interop.py
verifies kousei.xml with xmlsec1 in the raw spelling, attachments included)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12
from lxml import etree

from services.egov_sandbox import packages as sandbox_packages
from shared import xmldsig
from tests.e2e.support import efiling_stack, grant_my_number_view, jigyosho, link_egov_account, once_known
from tests.e2e.test_make_run import login
from tests.koyo_hoken.support import MY_NUMBER
from tests.koyo_hoken.test_efiling_all_procedures import assert_soshitsu_package
from tests.services.efiling.certs import PASSWORD
from tests.services.efiling.support import APPLICANT, FORM, PROC, shutoku
from tests.services.efiling.test_attachments import PDF, png
from tests.services.efiling.test_xmldsig_interop import DOCBODY_ID, signer
from tests.support import xmlsec1
from tests.webhooks.support import wait_for

pytestmark = pytest.mark.slow

__all__ = ["signer"]  # the office's key and certificate (a module-scoped fixture)

KOYO = "/api/v1/koyo-hoken"
EFILING = "/api/v1/efiling"
TENKIN_PROC = "4950008680040000"


@dataclass
class World:
    c: httpx.Client
    admin: dict[str, str]
    sandbox: httpx.Client
    js_a: str
    js_b: str


def today_jst() -> date:
    return datetime.now(ZoneInfo("Asia/Tokyo")).date()


def monthly_periods(last_day: date, months: int = 13) -> list[dict[str, Any]]:
    """月末締め wage periods ending on the day the person left, newest last, 300,000 yen each."""
    periods = []
    end = last_day
    for _ in range(months):
        start = end.replace(day=1)
        periods.append({"start": start.isoformat(), "end": end.isoformat(),
                        "basic_days": (end - start).days + 1, "wages_a": 300000})
        end = start - timedelta(days=1)
    return periods[::-1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, signer) -> Iterator[World]:
    stack, sandbox_url = efiling_stack(tmp_path_factory.mktemp("efiling-e2e") / "var")
    stack.start()
    try:
        with httpx.Client(base_url=stack.url, timeout=30) as c, httpx.Client(base_url=sandbox_url, timeout=30) as sb:
            r = login(c)
            assert r.status_code == 200, r.text
            admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
            js_a = jigyosho(c, admin, "株式会社山田製作所", "1301-123456-7")
            js_b = jigyosho(c, admin, "株式会社山田製作所 大阪工場", "2701-654321-0")
            link_egov_account(c, admin)
            # The office certificate (PKCS#12) through the gateway: every package is signed with it,
            # and the sandbox refuses an unsigned one.
            p12 = pkcs12.serialize_key_and_certificates(b"office", signer.key, signer.cert, None,
                                                        BestAvailableEncryption(PASSWORD.encode()))
            up = c.post(f"{EFILING}/certificates", headers=admin, data={"password": PASSWORD, "label": "事務所"},
                        files={"file": ("office.p12", p12, "application/x-pkcs12")})
            assert up.status_code == 201, up.text
            assert sb.put("/_sandbox/script", json={"outcome": "complete", "signature_required": True}
                          ).status_code == 204
            admin = grant_my_number_view(c, admin)
            yield World(c, admin, sb, js_a, js_b)
    finally:
        assert stack.stop() == 0


def package_files(w: World, filing: str) -> dict[str, bytes]:
    """The package as sent, downloaded through the gateway (the caller holds the unmasked view)."""
    [pkg] = w.c.get(f"{EFILING}/filings/{filing}/history", headers=w.admin).json()["packages"]
    r = w.c.get(f"{EFILING}/filings/{filing}/packages/{pkg['id']}", headers=w.admin)
    assert r.status_code == 200 and r.headers["x-roumu-my-number"] in ("shown", "none"), r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        return {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}


def submit(w: World, filing: str) -> None:
    etag = w.c.get(f"{EFILING}/filings/{filing}", headers=w.admin).headers["etag"]
    sent = w.c.post(f"{EFILING}/filings/{filing}/submit", headers={
        **w.admin, "If-Match": etag, "Idempotency-Key": str(uuid.uuid4())})
    assert sent.status_code == 200, sent.text
    # "arrived" or later: the sandbox took the package (signature and every reference checked)
    assert sent.json()["filing"]["status"] in ("arrived", "under_review", "reviewed", "completed"), sent.text


def official_document_verified(w: World, filing: str) -> None:
    """手続終了, and the 公文書 downloaded through the gateway verifies with xmlsec1 against the sandbox's CA."""
    def completed() -> dict[str, Any] | None:
        f: dict[str, Any] = w.c.get(f"{EFILING}/filings/{filing}", headers=w.admin).json()
        return f if f["status"] == "completed" else None

    def with_document() -> dict[str, Any] | None:
        h: dict[str, Any] = w.c.get(f"{EFILING}/filings/{filing}/history", headers=w.admin).json()
        return h if h["documents"] else None

    got = wait_for(completed, "the filing to reach 手続終了", timeout=90)
    assert got["egov_status"] == "手続終了", got
    history = wait_for(with_document, "the 公文書", timeout=60)
    [doc] = history["documents"]
    assert doc["signed"] is True and doc["signature_valid"] is True, doc
    r = w.c.get(f"{EFILING}/filings/{filing}/documents/{doc['id']}", headers=w.admin)
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        [xml_name] = [n for n in zf.namelist() if n.endswith(".xml")]
        signed = zf.read(xml_name)
    ca = x509.load_pem_x509_certificate(w.sandbox.get("/_sandbox/ca").content)
    res = xmlsec1.verify(signed, id_attr=DOCBODY_ID, trusted=[ca], doc_name=xml_name)
    assert res.ok, res.output
    # the oracle can fail: one changed byte of the signed body is refused
    tampered = signed.replace("手続が終了".encode(), "手続が完了".encode(), 1)
    assert tampered != signed
    assert not xmlsec1.verify(tampered, id_attr=DOCBODY_ID, trusted=[ca], doc_name=xml_name).ok


def file_procedure(w: World, body: dict[str, Any]) -> tuple[str, str]:
    """koyo_hoken: procedure → check → ready (If-Match) → hand to e-filing → submit → 手続終了 and
    the procedure completed in koyo_hoken: (procedure id, filing id)."""
    pr = once_known(lambda: w.c.post(f"{KOYO}/procedures", headers=w.admin, json=body))
    assert pr.status_code == 201, pr.text
    pid = pr.json()["id"]
    checked = w.c.post(f"{KOYO}/procedures/{pid}/check", headers={**w.admin, "If-Match": pr.headers["etag"]})
    assert checked.json()["state"] == "checked", checked.text
    ready = w.c.post(f"{KOYO}/procedures/{pid}/ready", headers={**w.admin, "If-Match": checked.headers["etag"]})
    assert ready.status_code == 200 and ready.json()["state"] == "ready", ready.text
    handed = w.c.post(f"{KOYO}/procedures/{pid}/efiling", headers=w.admin,
                      json={"applicant": {"氏名": "社労士 花子", "法人団体名": "花子社会保険労務士事務所"}})
    assert handed.status_code == 200, handed.text
    filing = handed.json()["filing_id"]
    submit(w, filing)
    official_document_verified(w, filing)
    wait_for(lambda: w.c.get(f"{KOYO}/procedures/{pid}", headers=w.admin).json()["state"] == "completed",
             "the procedure to be completed in koyo_hoken", timeout=60)
    return pid, filing


def insured_person(w: World, hihokensha_bango: str) -> str:
    r = once_known(lambda: w.c.post(f"{KOYO}/insured-persons", headers=w.admin, json={
        "jigyosho_id": w.js_a, "family_name": "山田", "given_name": "太郎", "family_name_kana": "ヤマダ",
        "given_name_kana": "タロウ", "birth_date": "1990-04-01", "hire_date": "2020-04-01", "weekly_hours": "40",
        "gender": "male", "employment_type": "regular", "wage_payment": "monthly", "monthly_wage": 300000,
        "job_type": "事務", "my_number": MY_NUMBER, "hihokensha_bango": hihokensha_bango}))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_soshitsu_with_rishoku_shomeisho_through_the_gateway_to_an_official_document(world: World) -> None:
    w = world
    left = today_jst() - timedelta(days=3)
    wages = {"pay_type": "monthly_full", "closing_day": 31, "periods": monthly_periods(left)}
    _, filing = file_procedure(w, {
        "insured_person_id": insured_person(w, "1234-567890-1"), "kind": "shikaku_soshitsu",
        "event_date": left.isoformat(), "with_rishoku_shomeisho": True, "details": {
            "jigyosho_number": "1301-123456-7", "cause": "2", "rishoku_reason_code": "2A", "wage_history": wages}})

    files = package_files(w, filing)
    preview = w.c.post(f"{KOYO}/rishoku-shomeisho/preview", headers=w.admin, json={
        "rishoku_date": left.isoformat(), "insured_since": "2020-04-01", "wage_history": wages})
    assert preview.status_code == 200, preview.text
    assert_soshitsu_package(files, preview.json())
    kousei = etree.fromstring(files["kousei.xml"])
    assert kousei.find(f"署名情報/{{{xmldsig.DSIG}}}Signature") is not None  # signed with the office certificate


def test_tenkin_through_the_gateway_to_an_official_document(world: World) -> None:
    w = world
    moved = today_jst() - timedelta(days=3)
    _, filing = file_procedure(w, {
        "insured_person_id": insured_person(w, "1234-567891-2"), "kind": "tenkin", "event_date": moved.isoformat(),
        "to_jigyosho_id": w.js_b,
        "details": {"jigyosho_number": "2701-654321-0", "from_jigyosho_number": "1301-123456-7"}})

    files = package_files(w, filing)
    assert etree.fromstring(files["kousei.xml"]).findtext("構成情報/管理情報/手続番号/手続ID") == TENKIN_PROC
    form = etree.fromstring(files["495008680040800400_01.xml"])
    assert form.findtext("転勤年月日/月") == f"{moved.month:02d}"
    assert form.findtext("転勤前の事業所番号/事業所番号6桁") == "123456"


def upload(w: World, name: str, data: bytes) -> str:
    fid = str(uuid.uuid4())
    r = once_known(lambda: w.c.put(f"/api/v1/files/files/{fid}", content=data, params={"jigyosho_id": w.js_a},
                                   headers={**w.admin, "Content-Type": "application/octet-stream",
                                            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}))
    assert r.status_code == 201 and r.json()["status"] == "available", r.text
    return fid


def test_a_filing_with_two_attachments_uploaded_through_the_gateway_is_verified_by_the_sandbox(
        world: World, signer) -> None:
    w = world
    image = png()
    daikou = upload(w, "提出代行証明書.pdf", PDF)
    inin = upload(w, "委任状.png", image)
    r = once_known(lambda: w.c.post(f"{EFILING}/filings", headers=w.admin, json={
        "jigyosho_id": w.js_a, "procedure_code": PROC, "applicant": APPLICANT, "sign": True,
        "forms": [{"form_id": form, "fields": fields} for form, fields in shutoku().items()],
        "attachments": [{"file_id": daikou, "label": "提出代行証明書"}, {"file_id": inin, "label": "委任状"}]}))
    assert r.status_code == 201, r.text
    filing = r.json()["id"]
    submit(w, filing)  # the sandbox requires the signature and checked each Reference's digest

    files = package_files(w, filing)
    assert files["tenpu01.pdf"] == PDF and files["tenpu02.png"] == image
    kousei = etree.fromstring(files["kousei.xml"])
    declared = [(a.findtext("添付書類名称"), a.findtext("添付書類ファイル名称"))
                for a in kousei.iterfind("構成情報/添付書類属性情報")]
    assert declared == [("提出代行証明書", "tenpu01.pdf"), ("委任状", "tenpu02.png")]
    # Every file Reference's digest is the SHA-256 of the bytes downloaded (computed here, not by our
    # signer), both attachments among them; the certificate in the signature is the office's.
    digests = {ref.get("URI"): ref.findtext(f"{{{xmldsig.DSIG}}}DigestValue")
               for ref in kousei.iter(f"{{{xmldsig.DSIG}}}Reference")}
    for name in ("tenpu01.pdf", "tenpu02.png", f"{FORM}_01.xml"):
        assert digests[name] == base64.b64encode(hashlib.sha256(files[name]).digest()).decode(), name
    embedded = kousei.findtext(f".//{{{xmldsig.DSIG}}}X509Certificate")
    assert embedded is not None and base64.b64decode(embedded) == signer.cert.public_bytes(Encoding.DER)
    # What the sandbox received, read by its own check: signed, both attachments declared and referenced.
    recorded = w.sandbox.get("/_sandbox/requests", params={"path": "/shinsei/v2/apply", "method": "POST"}).json()
    [apply] = [x for x in recorded if json.loads(x["body"])["proc_id"] == PROC]  # this test's only 資格取得届
    seen = sandbox_packages.check_single(json.loads(apply["body"])["send_file"]["file_data"], PROC, ("新規申請",))
    assert seen.signed and seen.attachments == ["提出代行証明書", "委任状"]
    official_document_verified(w, filing)
