"""XML signatures checked by an independent implementation (Debian's xmlsec1), both ways.

Our signer and our verifier agreeing proves nothing (issue 19: lxml's subtree canonicalisation
wrote xmlns="" into SignedInfo, so every signature we made was invalid elsewhere while our own
verifier, making the same mistake, accepted it). Here:

* xmlsec1 verifies every kind of document we sign: kousei.xml with its file References (built by
  efiling's package builder, with an attachment), the 取下げ依頼 package, and a 公文書 issued by the
  sandbox (fetched over HTTP);
* our verifier and the sandbox accept documents signed by xmlsec1 — and reject them once one byte
  of a referenced file (or of the signed element) changes.

One spelling differs from the wire: e-Gov's samples percent-encode the `#構成情報` fragment
(`#%E6%A7%8B…`, what we send), and xmlsec1 1.2.x does not percent-decode a same-document fragment
before looking the ID up (it fails with `xpointer(id('%E6%A7%8B…'))`, whoever signed). For xmlsec1
the kousei signatures are therefore made with the fragment unescaped (`raw_fragment`); everything
else — both canonicalisations, the file digests, RSA-SHA256, the layout — is what goes on the wire,
and our verifier takes both spellings."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from services.efiling.egov import package
from services.efiling.rules.procedures import find
from shared import xmldsig
from tests.services.egov_support import new_account
from tests.support import xmlsec1

PROC = "4950008680033000"
FORM = "495008680033800330"
KOUSEI_ID = ("ID", "構成情報")
DOCBODY_ID = ("ID", "BODY")


@pytest.fixture
def raw_fragment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xmldsig, "KOUSEI_URI", "#" + xmldsig.KOUSEI_ID)


@pytest.fixture(scope="module")
def signer() -> package.Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "花子社会保険労務士事務所"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "社労士 花子")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return package.Signer(key, cert)


def _shutoku() -> dict[str, dict[str, object]]:
    return {FORM: {"被保険者氏名": "山田太郎", "被保険者氏名フリガナ": "ヤマダタロウ", "性別": "1",
                   "生年月日": {"年号": "5", "年": "02", "月": "04", "日": "01"},
                   "事業所番号": {"事業所番号4桁": "1301", "事業所番号6桁": "123456", "事業所番号CD": "7"},
                   "資格取得年月日": {"年号": "5", "年": "08", "月": "04", "日": "01"}}}


def _procedure():
    proc = find(PROC, date(2026, 1, 1))
    assert proc is not None
    return proc


def _built(signer: package.Signer | None) -> package.Built:
    return package.application(
        _procedure(), _shutoku(), {"氏名": "社労士 花子", "法人団体名": "株式会社サンプル"},
        now=datetime(2026, 4, 1, 9, 0, tzinfo=UTC), signer=signer,
        attachments=[package.Attachment("提出代行証明書", "daikou.pdf", b"%PDF-1.4 proxy certificate\n")])


def _others(built: package.Built) -> dict[str, bytes]:
    return {n: b for n, b in built.files.items() if n != package.KOUSEI}


def _flip(data: bytes, marker: bytes) -> bytes:
    """One byte changed, inside `marker`."""
    i = data.index(marker)
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


# ---------------------------------------------------------------- ours, verified by xmlsec1


def test_xmlsec1_verifies_the_kousei_xml_our_package_builder_signs(signer, raw_fragment):
    built = _built(signer)
    kousei = built.files[package.KOUSEI]
    assert b'xmlns=""' not in kousei
    res = xmlsec1.verify(kousei, id_attr=KOUSEI_ID, trusted=[signer.cert], files=_others(built))
    assert res.ok, res.output
    # the oracle can fail: a changed byte in the referenced 申請書 file is caught
    tampered = {**_others(built), f"{FORM}_01.xml": _flip(built.files[f"{FORM}_01.xml"], "山田".encode())}
    res = xmlsec1.verify(kousei, id_attr=KOUSEI_ID, trusted=[signer.cert], files=tampered)
    assert not res.ok, res.output


def test_xmlsec1_verifies_our_withdrawal_package(signer, raw_fragment):
    built = package.withdrawal(_procedure(), arrive_id="1234567890123456", applicant_name="社労士 花子",
                               reason="重複して申請したため", on=date(2026, 4, 2),
                               now=datetime(2026, 4, 2, 9, 0, tzinfo=UTC), signer=signer)
    res = xmlsec1.verify(built.files[package.KOUSEI], id_attr=KOUSEI_ID, trusted=[signer.cert],
                         files=_others(built))
    assert res.ok, res.output


def _token(sandbox) -> str:
    return str(sandbox.token_for(new_account())["access_token"])


def _apply(c: httpx.Client, built: package.Built) -> httpx.Response:
    return c.post("/apply", json={"proc_id": PROC, "send_file": {"file_name": built.file_name,
                                                                  "file_data": built.file_data}})


def test_xmlsec1_verifies_the_official_document_the_sandbox_issues(sandbox, signer):
    sandbox.script(outcome="complete", signature_required=True)
    ca = x509.load_pem_x509_certificate(sandbox.http.get("/_sandbox/ca").content)
    with httpx.Client(base_url=sandbox.api, headers={"Authorization": f"Bearer {_token(sandbox)}"}) as c:
        r = _apply(c, _built(signer))
        assert r.status_code == 200, r.text
        arrive_id = r.json()["results"]["arrive_id"]
        for _ in range(5):
            case = c.get(f"/apply/{arrive_id}").json()["results"]
            if case["official_list"]:
                break
        [doc] = case["official_list"]
        r = c.get(f"/official_document/{arrive_id}/{doc['notice_sub_id']}")
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(r.json()["results"]["file_data"]))) as zf:
        signed = zf.read("comment_doc1.xml")
    res = xmlsec1.verify(signed, id_attr=DOCBODY_ID, trusted=[ca], doc_name="comment_doc1.xml")
    assert res.ok, res.output
    res = xmlsec1.verify(_flip(signed, "手続が終了".encode()), id_attr=DOCBODY_ID, trusted=[ca],
                         doc_name="comment_doc1.xml")
    assert not res.ok, res.output


# ---------------------------------------------------------------- signed by xmlsec1, verified by us


def _kousei_template(unsigned: bytes, files: list[str]) -> bytes:
    """e-Gov's layout (EGOV-XML.md §2) as an xmlsec1 template: 署名情報 after 構成情報."""
    root = xmldsig.parse(unsigned)
    refs = "".join(f'<Reference URI="{n}"><DigestMethod Algorithm="{xmldsig.SHA256}"/><DigestValue/></Reference>'
                   for n in files)
    holder = etree.fromstring(
        f'<署名情報><Signature xmlns="{xmldsig.DSIG}" Id="20260401090000"><SignedInfo>'
        f'<CanonicalizationMethod Algorithm="{xmldsig.C14N}"/><SignatureMethod Algorithm="{xmldsig.RSA_SHA256}"/>'
        '<Reference URI="#構成情報"><Transforms>'
        f'<Transform Algorithm="{xmldsig.C14N}"/></Transforms><DigestMethod Algorithm="{xmldsig.SHA256}"/>'
        f'<DigestValue/></Reference>{refs}</SignedInfo><SignatureValue/>'
        "<KeyInfo><X509Data/></KeyInfo></Signature></署名情報>")
    target = root.find("構成情報")
    assert target is not None
    target.addnext(holder)
    return xmldsig.serialize(root)


def test_our_verifier_and_the_sandbox_accept_a_kousei_signed_by_xmlsec1_and_refuse_it_tampered(sandbox, signer):
    built = _built(None)
    others = _others(built)
    template = _kousei_template(built.files[package.KOUSEI], [f"{FORM}_01.xml"])
    res = xmlsec1.sign(template, id_attr=KOUSEI_ID, key=signer.key, cert=signer.cert, files=others)
    assert res.ok, res.output
    signed = res.signed
    [verified] = xmldsig.verify_kousei(signed, others)
    assert verified.serial_number == format(signer.cert.serial_number, "x")

    good = package.Built(built.folder, {package.KOUSEI: signed, **others})
    good.zip_bytes, good.file_name = package.zip_folder(good.folder, good.files), built.file_name
    form = f"{FORM}_01.xml"
    bad = package.Built(built.folder, {package.KOUSEI: signed, **others, form: _flip(others[form], "山田".encode())})
    bad.zip_bytes, bad.file_name = package.zip_folder(bad.folder, bad.files), built.file_name
    with pytest.raises(xmldsig.SignatureError, match="ダイジェスト値が一致しません"):
        xmldsig.verify_kousei(signed, bad.files)
    # one byte inside the signed 構成情報 element
    with pytest.raises(xmldsig.SignatureError):
        xmldsig.verify_kousei(_flip(signed, "株式会社サンプル".encode()), others)

    sandbox.script(signature_required=True)
    with httpx.Client(base_url=sandbox.api, headers={"Authorization": f"Bearer {_token(sandbox)}"}) as c:
        body = {"proc_id": PROC, "send_file": {"file_name": good.file_name, "file_data": good.file_data}}
        r = c.post("/apply/check", json=body)
        assert r.status_code == 200 and r.json()["results"]["error_count"] == 0, r.text
        r = c.post("/apply/check", json={**body, "send_file": {**body["send_file"], "file_data": bad.file_data}})
        assert r.status_code == 200 and r.json()["results"]["error_count"] == 1, r.text
        assert r.json()["results"]["report_list"][0]["item"] == "署名情報"
        assert _apply(c, good).status_code == 200


def test_our_verifier_and_the_sandbox_accept_an_official_document_signed_by_xmlsec1(sandbox, signer):
    doc = ('<?xml version="1.0" encoding="UTF-8"?>\n<DOC VERSION="1.0"><FRONT><SECRECY/></FRONT>'
           '<BODY ID="DOCBODY"><TITLE>雇用保険被保険者資格取得等確認通知書</TITLE><MAINTXT><P LEVEL="1">'
           "手続が終了しました。</P></MAINTXT></BODY>"
           f'<Signature xmlns="{xmldsig.DSIG}"><SignedInfo>'
           f'<CanonicalizationMethod Algorithm="{xmldsig.C14N_COMMENTS}"/>'
           f'<SignatureMethod Algorithm="{xmldsig.RSA_SHA256}"/><Reference URI="#DOCBODY"><Transforms>'
           f'<Transform Algorithm="{xmldsig.ENVELOPED}"/></Transforms>'
           f'<DigestMethod Algorithm="{xmldsig.SHA256}"/><DigestValue/></Reference></SignedInfo>'
           "<SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature></DOC>").encode()
    res = xmlsec1.sign(doc, id_attr=DOCBODY_ID, key=signer.key, cert=signer.cert, doc_name="doc.xml")
    assert res.ok, res.output
    assert xmldsig.verify_enveloped(res.signed).certificate_count == 1
    tampered = _flip(res.signed, "手続が終了".encode())
    with pytest.raises(xmldsig.SignatureError):
        xmldsig.verify_enveloped(tampered)

    def verify(data: bytes) -> dict[str, object]:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("doc.xml", data)
        with httpx.Client(base_url=sandbox.api, headers={"Authorization": f"Bearer {_token(sandbox)}"}) as c:
            r = c.post("/official_document/verify", json={
                "file_name": "doc.zip", "file_data": base64.b64encode(buf.getvalue()).decode(),
                "sig_verification_xml_file_name": "doc.xml"})
        assert r.status_code == 200, r.text
        official: dict[str, object] = r.json()["results"]["verify_result"][0]["official"]
        return official

    assert verify(res.signed)["validation_result"] == "正常です。"
    assert str(verify(tampered)["validation_result"]).startswith("異常です。")


def test_our_wire_spelling_verifies_with_our_verifier(signer):
    """What we send carries the percent-encoded fragment, and verifies (round trip; no proof alone)."""
    built = _built(signer)
    assert b'URI="#%E6%A7%8B%E6%88%90%E6%83%85%E5%A0%B1"' in built.files[package.KOUSEI]
    assert len(xmldsig.verify_kousei(built.files[package.KOUSEI], _others(built))) == 1


def test_signed_info_canonical_form_has_no_empty_default_namespace(signer):
    """The defect itself: SignedInfo inherits xmlns from Signature; its canonical form must carry
    it on SignedInfo alone, never `xmlns=""` on the children (what lxml's subtree c14n wrote)."""
    signed = _built(signer).files[package.KOUSEI]
    si = xmldsig.parse(signed).find(f".//{{{xmldsig.DSIG}}}SignedInfo")
    assert si is not None
    canonical = xmldsig._c14n(si)
    assert canonical.startswith(f'<SignedInfo xmlns="{xmldsig.DSIG}">'.encode())
    assert b'xmlns=""' not in canonical
    assert canonical.count(b"xmlns=") == 1
