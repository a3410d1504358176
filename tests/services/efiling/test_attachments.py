"""Attachments of a filing: files staff uploaded to the files service, referenced by id when the
filing is created, listed in kousei.xml's 添付書類属性情報 with their names, covered by the
signature's references (the sandbox checks each, and so does xmlsec1), and refused with 422 before
anything exists to send when they break our limits (docs/efiling.md, Attachments)."""

from __future__ import annotations

import base64
import io
import json
import struct
import uuid
import zipfile
import zlib
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from lxml import etree

from services.efiling import attachments
from services.efiling.egov import package
from services.efiling.rules.procedures import find
from services.egov_sandbox import packages as sandbox_packages
from shared import xmldsig
from tests.conftest import bearer
from tests.services.efiling.certs import PASSWORD
from tests.services.efiling.support import PROC, efiling_settings, shutoku
from tests.services.efiling.test_api import BASE, body, link, submit
from tests.services.efiling.test_xmldsig_interop import KOUSEI_ID, raw_fragment, signer
from tests.services.egov_support import new_account
from tests.support import xmlsec1
from tests.support.jigyosho import jigyosho  # noqa: F401 - the 事業所 seeder fixture

__all__ = ["raw_fragment", "signer"]  # fixtures shared with the interop tests

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


@pytest.fixture
def api(service_client, sandbox, files_server, monkeypatch):
    monkeypatch.setenv("ROUMU_FILES_URL", files_server.url)
    return service_client("efiling", efiling_settings=efiling_settings(sandbox, worker_enabled=False))


def upload_file(files_url: str, headers: dict[str, str], name: str, data: bytes) -> str:
    fid = str(uuid.uuid4())
    with httpx.Client(base_url=files_url, timeout=30) as files:
        r = files.put(f"/api/v1/files/files/{fid}", content=data, params={"jigyosho_id": "js-1"},
                      headers={**headers, "Content-Type": "application/octet-stream",
                               "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "available", r.json()
    return fid


def office(c, headers: dict[str, str], signer: package.Signer) -> None:
    p12 = pkcs12.serialize_key_and_certificates(b"office", signer.key, signer.cert, None,
                                                BestAvailableEncryption(PASSWORD.encode()))
    r = c.post(f"{BASE}/certificates", headers=headers, files={"file": ("office.p12", p12, "application/x-pkcs12")},
               data={"password": PASSWORD, "label": "事務所"})
    assert r.status_code == 201, r.text


def package_files(c, headers: dict[str, str], fid: str) -> dict[str, bytes]:
    [pkg] = c.get(f"{BASE}/filings/{fid}/history", headers=headers).json()["packages"]
    r = c.get(f"{BASE}/filings/{fid}/packages/{pkg['id']}", headers=headers)
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        return {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}


def test_a_filing_with_two_attachments_is_signed_over_them_and_verified_by_the_sandbox_and_xmlsec1(
        api, sandbox, files_server, tokens, jigyosho, signer, raw_fragment):  # noqa: F811
    c = api
    t = str(uuid.uuid4())
    jigyosho.open(t, "js-1", services=("files",))
    staff = bearer(tokens.user(t))
    link(c, sandbox, staff, new_account())
    office(c, staff, signer)
    pdf, image = PDF, png()
    daikou = upload_file(files_server.url, staff, "提出代行証明書.pdf", pdf)
    inin = upload_file(files_server.url, staff, "委任状.png", image)

    r = c.post(f"{BASE}/filings", headers=staff, json=body(sign=True, attachments=[
        {"file_id": daikou, "label": "提出代行証明書"}, {"file_id": inin, "label": "委任状"}]))
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    sent = submit(c, staff, fid)
    assert sent.status_code == 200, sent.text
    assert sent.json()["filing"]["status"] == "arrived", sent.text  # the sandbox verified every reference

    files = package_files(c, staff, fid)
    assert files["tenpu01.pdf"] == pdf and files["tenpu02.png"] == image
    kousei = etree.fromstring(files["kousei.xml"])
    declared = [(a.findtext("添付書類名称"), a.findtext("添付書類ファイル名称"))
                for a in kousei.iterfind("構成情報/添付書類属性情報")]
    assert declared == [("提出代行証明書", "tenpu01.pdf"), ("委任状", "tenpu02.png")]
    refs = {r.get("URI") for r in kousei.iter(f"{{{xmldsig.DSIG}}}Reference")}
    assert {"tenpu01.pdf", "tenpu02.png", "495008680033800330_01.xml"} <= refs
    # what the sandbox received, read by its own check: signed, both attachments declared and referenced
    [apply] = sandbox.requests(path="/shinsei/v2/apply", method="POST")
    seen = sandbox_packages.check_single(json.loads(apply["body"])["send_file"]["file_data"], PROC, ("新規申請",))
    assert seen.signed and seen.attachments == ["提出代行証明書", "委任状"]

    # The independent oracle: xmlsec1 verifies kousei.xml with both attachments beside it …
    others = {n: b for n, b in files.items() if n != "kousei.xml"}
    res = xmlsec1.verify(files["kousei.xml"], id_attr=KOUSEI_ID, trusted=[signer.cert], files=others)
    assert res.ok, res.output
    # … and fails, as the sandbox refuses, once one byte of an attachment changes.
    tampered = {**others, "tenpu02.png": image[:-1] + bytes([image[-1] ^ 1])}
    assert not xmlsec1.verify(files["kousei.xml"], id_attr=KOUSEI_ID, trusted=[signer.cert], files=tampered).ok
    zipped = package.zip_folder(PROC, {**tampered, "kousei.xml": files["kousei.xml"]})
    with pytest.raises(sandbox_packages.PackageErrors) as e:
        sandbox_packages.check_single(base64.b64encode(zipped).decode(), PROC, ("新規申請",))
    assert any(r.item == "署名情報" for r in e.value.reports)


def test_the_sandbox_checks_an_attachments_reference_and_takes_one_left_unsigned_as_public_clients_send(signer):
    proc = find(PROC, date(2026, 4, 1))
    assert proc is not None
    form = "495008680033800330_01.xml"
    atts = [package.Attachment("委任状", "tenpu01.pdf", PDF)]
    # ours: the attachment is a Reference; one changed byte in it is refused
    built = package.application(proc, shutoku(), {"氏名": "社労士 花子"}, now=datetime(2026, 4, 1, tzinfo=UTC),
                                signer=signer, attachments=atts)
    ok = sandbox_packages.check_single(base64.b64encode(built.zip_bytes).decode(), PROC, ("新規申請",))
    assert ok.signed and ok.attachments == ["委任状"]
    tampered = package.zip_folder(PROC, {**built.files, "tenpu01.pdf": PDF.replace(b"Catalog", b"Catalox")})
    with pytest.raises(sandbox_packages.PackageErrors) as e:
        sandbox_packages.check_single(base64.b64encode(tampered).decode(), PROC, ("新規申請",))
    assert [(r.item, r.file_name) for r in e.value.reports] == [("署名情報", "kousei.xml")]
    assert "tenpu01.pdf" in e.value.reports[0].content
    # the public clients' way (EGOV-XML.md §2): signed over kousei and the form only, still accepted
    bare = package.application(proc, shutoku(), {"氏名": "社労士 花子"}, now=datetime(2026, 4, 1, tzinfo=UTC),
                               attachments=atts)
    bare.files["kousei.xml"] = xmldsig.sign_kousei(bare.files["kousei.xml"], {form: bare.files[form]},
                                                   signer.key, signer.cert, "20260401090000")
    seen = sandbox_packages.check_single(base64.b64encode(package.zip_folder(PROC, bare.files)).decode(), PROC,
                                         ("新規申請",))
    assert seen.signed and seen.attachments == ["委任状"]


def test_attachments_that_break_the_limits_are_refused_with_422_before_anything_exists(
        api, sandbox, files_server, tokens, jigyosho):  # noqa: F811
    c = api
    t = str(uuid.uuid4())
    jigyosho.open(t, "js-1", services=("files",))
    staff = bearer(tokens.user(t))
    link(c, sandbox, staff, new_account())
    # a GIF: the files service takes it, e-filing does not send it (PDF, JPEG, PNG only)
    gif = upload_file(files_server.url, staff, "chingin.gif", GIF)
    good = upload_file(files_server.url, staff, "daikou.pdf", PDF)

    def create(items: list[dict[str, Any]], **over: Any):
        return c.post(f"{BASE}/filings", headers=staff, json=body(attachments=items, **over))

    r = create([{"file_id": good, "label": "提出代行証明書"}, {"file_id": gif, "label": "賃金台帳"},
                {"file_id": str(uuid.uuid4()), "label": "委任状"}])
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    problem = r.json()
    assert problem["type"].endswith("/attachment-refused") and problem["title"] == "添付書類を送信できません"
    # the unreadable / missing ones are named first; the type is checked once all are read
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("body.attachments.2", "not_found")]
    r = create([{"file_id": good, "label": "提出代行証明書"}, {"file_id": gif, "label": "賃金台帳"}])
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("body.attachments.1", "type")]
    r = create([{"file_id": good, "label": "添付"}] * 11)
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("body.attachments")
    r = c.post(f"{BASE}/filings", headers=staff, json={"jigyosho_id": "js-1", "procedure_code": PROC,
                                                         "attachments": [{"file_id": good, "label": "添付"}]})
    assert r.status_code == 422, r.text
    assert c.get(f"{BASE}/filings", headers=staff).json()["total"] == 0  # nothing was drafted
    assert sandbox.requests(path="/shinsei/v2/apply", method="POST") == []


def test_the_size_limits():
    big = b"%PDF-1.4\n" + b"0" * attachments.MAX_FILE_BYTES
    _, refused = attachments.check([("a", big)])
    assert [(r.index, r.code) for r in refused] == [(0, "too_large")]
    part = b"%PDF-1.4\n" + b"0" * (attachments.MAX_FILE_BYTES - 100)
    ok, refused = attachments.check([("a", part), ("b", part), ("c", part)])
    assert [r.code for r in refused] == ["total_too_large"]
    ok, refused = attachments.check([("a", PDF), ("b", png()), ("c", b"\xff\xd8\xff\xe0jpeg")])
    assert refused == [] and [a.file_name for a in ok] == ["tenpu01.pdf", "tenpu02.png", "tenpu03.jpg"]


def test_a_retry_answers_the_filing_created_even_once_its_attachment_is_gone(
        api, sandbox, files_server, tokens, jigyosho):  # noqa: F811
    c = api
    t = str(uuid.uuid4())
    jigyosho.open(t, "js-1", services=("files",))
    staff = bearer(tokens.user(t))
    link(c, sandbox, staff, new_account())
    fid = upload_file(files_server.url, staff, "inin.pdf", PDF)
    svc = {**bearer(tokens.service("koyo_hoken", "efiling", t)), "Idempotency-Key": str(uuid.uuid4())}
    request = body(attachments=[{"file_id": fid, "label": "委任状"}])
    first = c.post(f"{BASE}/filings", headers=svc, json=request)
    assert first.status_code == 201, first.text
    with httpx.Client(base_url=files_server.url, timeout=30) as files:
        assert files.delete(f"/api/v1/files/files/{fid}", headers=staff).status_code == 204
    again = c.post(f"{BASE}/filings", headers=svc, json=request)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"], again.text
    assert again.headers["idempotent-replayed"] == "true"
    # what was kept is what is sent
    sent = submit(c, staff, first.json()["id"])
    assert sent.status_code == 200 and sent.json()["filing"]["status"] == "arrived", sent.text
    assert package_files(c, staff, first.json()["id"])["tenpu01.pdf"] == PDF
