"""Office certificates (PKCS#12, generated here with `cryptography`): upload refusals with their
Japanese problems, listing with the expiry warning, replace, choose per account, delete, events
without secrets; packages signed with the uploaded certificate verify with shared.xmldsig against
it and the sandbox (requiring signatures) accepts them; no certificate → refused before sending."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import create_engine, select, text, update

from services.efiling import certificates, packages, submission
from services.efiling.models import FilingPackage, OfficeCertificate, Submission
from shared import xmldsig
from shared.db import Database
from shared.errors import ProblemError
from shared.events import SYSTEM
from tests.conftest import bearer
from tests.services.efiling.certs import PASSWORD, make_p12
from tests.services.efiling.support import PROC, efiling_settings, link_account, make_egov, new_filing, tenant
from tests.services.efiling.test_api import BASE, body, link, submit
from tests.services.egov_support import new_account
from tests.services.support import assert_matches_contract, outbox_payloads


@pytest.fixture
def api(service_client, sandbox, files_server, monkeypatch):
    monkeypatch.setenv("ROUMU_FILES_URL", files_server.url)
    return service_client("efiling", efiling_settings=efiling_settings(sandbox, worker_enabled=False))


def upload(c, headers: dict[str, str], data: bytes, password: str = PASSWORD, label: str = "事務所",
           **form: Any):
    return c.post(f"{BASE}/certificates", headers=headers, files={"file": ("office.p12", data,
                                                                          "application/x-pkcs12")},
                  data={"password": password, "label": label, **form})


def test_upload_refusals_listing_replace_choose_delete(api, sandbox, tokens, settings):
    c = api
    t = str(uuid.uuid4())
    staff = bearer(tokens.user(t))
    valid, cert = make_p12()

    cases = [
        (b"\x00garbage, not a PKCS#12 file" * 4, PASSWORD, "certificate-unreadable",
         "PKCS#12 (.p12 / .pfx) ファイルとして読み取れません"),
        (valid, "wrong-password-ひみつ", "certificate-password", "証明書のパスワードが正しくありません"),
        (make_p12(valid_from_days=-400)[0], PASSWORD, "certificate-expired", "有効期限が切れた証明書です"),
        (make_p12(kind="ec")[0], PASSWORD, "certificate-key-type", "RSA 以外の鍵の証明書は使えません"),
        (make_p12(bits=1024)[0], PASSWORD, "certificate-key-size", "鍵の長さが足りません"),
    ]
    for data, password, slug, title in cases:
        r = upload(c, staff, data, password)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/" + slug) and r.json()["title"] == title
        assert password not in r.text and PASSWORD not in r.text
    assert c.get(f"{BASE}/certificates", headers=staff).json()["items"] == []

    # a user without the write menu cannot upload
    r = upload(c, bearer(tokens.bare_user(t, "u-none")), valid)
    assert r.status_code == 403

    r = upload(c, staff, valid)
    assert r.status_code == 201, r.text
    office = r.json()
    assert office["fingerprint_sha256"] == cert.fingerprint(hashes.SHA256()).hex()
    assert office["serial_number"] == format(cert.serial_number, "x") and office["is_default"] is True
    assert "社労士 花子" in office["subject"] and office["issuer"] == "O=Test CA,C=JP"
    assert office["key_size"] == 2048 and office["warning"] is None
    assert not any(k in office for k in ("private_key_sealed", "certificate_der", "password"))

    # a second one (the 理事長's) expiring within 30 days: listed with a warning, not the default
    soon, _ = make_p12(valid_days=11, name="労働保険事務組合")
    r = upload(c, staff, soon, label="理事長")
    assert r.status_code == 201 and r.json()["is_default"] is False and r.json()["expires_soon"] is True
    chair = r.json()
    listing = c.get(f"{BASE}/certificates", headers=staff).json()
    assert [i["label"] for i in listing["items"]] == ["事務所", "理事長"]
    assert len(listing["warnings"]) == 1 and "理事長" in listing["warnings"][0] and "有効期限が近づいています" in \
        listing["warnings"][0]

    # chosen for one e-Gov account; the other accounts use the default
    acct = link(c, sandbox, staff, new_account())
    etag = c.get(f"{BASE}/egov-accounts", headers=staff).json()[0]["version"]
    r = c.put(f"{BASE}/egov-accounts/{acct}/certificate", headers={**staff, "If-Match": f'"{etag}"'},
              json={"certificate_id": chair["id"]})
    assert r.status_code == 200 and r.json()["certificate_id"] == chair["id"]
    r = c.put(f"{BASE}/egov-accounts/{acct}/certificate", headers={**staff, "If-Match": r.headers["etag"]},
              json={"certificate_id": str(uuid.uuid4())})
    assert r.status_code == 422
    listing = c.get(f"{BASE}/certificates", headers=staff).json()
    assert listing["items"][1]["egov_account_ids"] == [acct]

    # replaced by its renewal: same id, new fingerprint, the account keeps it, the warning is gone
    renewed, renewed_cert = make_p12(name="労働保険事務組合")
    r = c.put(f"{BASE}/certificates/{chair['id']}", headers={**staff, "If-Match": '"99"'},
              files={"file": ("r.pfx", renewed, "application/x-pkcs12")}, data={"password": PASSWORD})
    assert r.status_code == 412
    r = c.put(f"{BASE}/certificates/{chair['id']}", headers={**staff, "If-Match": f'"{chair["version"]}"'},
              files={"file": ("r.pfx", renewed, "application/x-pkcs12")}, data={"password": "nope"})
    assert r.status_code == 422 and r.json()["type"].endswith("/certificate-password")
    r = c.put(f"{BASE}/certificates/{chair['id']}", headers={**staff, "If-Match": f'"{chair["version"]}"'},
              files={"file": ("r.pfx", renewed, "application/x-pkcs12")}, data={"password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == chair["id"] and r.json()["fingerprint_sha256"] != chair["fingerprint_sha256"]
    assert r.json()["warning"] is None and r.json()["egov_account_ids"] == [acct]

    # another tenant sees none of them
    other = bearer(tokens.user(str(uuid.uuid4())))
    assert c.get(f"{BASE}/certificates", headers=other).json()["items"] == []
    r = c.delete(f"{BASE}/certificates/{office['id']}", headers={**other, "If-Match": '"1"'})
    assert r.status_code == 404

    # the key is sealed, the password is nowhere in the database
    engine = create_engine(settings.database_url("efiling"))
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT private_key_sealed, certificate_der FROM office_certificates "
                                    "WHERE id = :i"), {"i": office["id"]}).one()
            dump = json.dumps([list(r) for r in conn.execute(text("SELECT * FROM office_certificates"))],
                              default=str, ensure_ascii=False)
            outbox = json.dumps([list(r) for r in conn.execute(text("SELECT payload FROM outbox"))], default=str,
                                ensure_ascii=False)
    finally:
        engine.dispose()
    assert "BEGIN" not in row.private_key_sealed and len(row.certificate_der) > 100
    assert PASSWORD not in dump and PASSWORD not in outbox and "PRIVATE KEY" not in dump

    r = c.delete(f"{BASE}/certificates/{chair['id']}", headers={**staff, "If-Match": f'"{chair["version"] + 1}"'})
    assert r.status_code == 204
    assert c.get(f"{BASE}/egov-accounts", headers=staff).json()[0]["certificate_id"] is None
    assert [i["id"] for i in c.get(f"{BASE}/certificates", headers=staff).json()["items"]] == [office["id"]]

    events = outbox_payloads(settings, "efiling", chair["id"])
    assert [e["type"] for e in events] == ["roumu.efiling.certificate.added", "roumu.efiling.certificate.removed",
                                           "roumu.efiling.certificate.added", "roumu.efiling.certificate.removed"]
    assert [e["data"].get("reason") for e in events] == [None, "replaced", None, "deleted"]
    for e in [*events, *outbox_payloads(settings, "efiling", office["id"])]:
        assert_matches_contract(e)
        assert "subject" not in e["data"] and PASSWORD not in json.dumps(e, ensure_ascii=False)
    assert events[2]["data"]["fingerprint_sha256"] == renewed_cert.fingerprint(hashes.SHA256()).hex()


@pytest.fixture
def db(settings):
    d = Database(settings.database_url("efiling"))
    yield d
    d.dispose()


def _package_files(zip_bytes: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        return {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}


def test_signed_with_the_uploaded_certificate_and_accepted_or_refused_without_one(sandbox, db, settings):
    egov, _ = make_egov(settings, sandbox)
    try:
        t, account = tenant(), new_account()
        acct_id = link_account(db, egov, sandbox, t, account)
        sandbox.script(signature_required=True)
        fid = new_filing(db, egov, t, acct_id)
        with db.transaction() as session:
            sub = session.get(Submission, fid)
            assert sub is not None
            sub.sign = True  # as a filing drafted with `sign: true`

        # no certificate: refused before anything is sent
        with pytest.raises(ProblemError) as exc:
            submission.submit(db, egov, fid)
        assert exc.value.status == 409 and exc.value.slug == "certificate-required"
        assert sandbox.requests(path="/shinsei/v2/apply/check") == []
        assert sandbox.requests(path="/shinsei/v2/apply", method="POST") == []
        assert submission.missing_certificates(db, egov, [fid]) == [{"filing_id": fid, "code": "certificate-required"}]

        data, cert = make_p12()
        parsed = certificates.parse_pkcs12(data, PASSWORD, egov.clock.now())
        with db.transaction() as session:
            row = certificates.add(session, egov.keys, t, "事務所", parsed, None, SYSTEM, egov.clock.now())
            sealed = row.private_key_sealed
        assert b"PRIVATE" not in sealed.encode()

        out = submission.submit(db, egov, fid)
        assert out.state == "arrived" and out.arrive_id, out
        with db.sessions() as session:
            [kept] = session.execute(select(FilingPackage).where(FilingPackage.filing_id == fid)).scalars()
            assert kept.signed is True
        kept_zip = packages.zip_of(egov.keys, kept)
        files = _package_files(kept_zip)
        [verified] = xmldsig.verify_kousei(files["kousei.xml"], {k: v for k, v in files.items() if k != "kousei.xml"})
        assert verified.serial_number == format(cert.serial_number, "x")
        embedded = xmldsig.parse(files["kousei.xml"]).find(f".//{{{xmldsig.DSIG}}}X509Certificate")
        assert embedded is not None and base64.b64decode(embedded.text or "") == cert.public_bytes(
            serialization.Encoding.DER)
        # what the sandbox received is that package, and it accepted it (one arrival)
        [sent] = sandbox.requests(path="/shinsei/v2/apply", method="POST")
        assert base64.b64decode(json.loads(sent["body"])["send_file"]["file_data"]) == kept_zip
        assert len(sandbox.cases(account)) == 1

        # an unsigned package is refused by the sandbox requiring signatures (the check is real)
        other = new_filing(db, egov, t, acct_id)
        with db.transaction() as session:
            session.execute(update(OfficeCertificate).values(is_default=False))
        report = submission.check_before_send(db, egov, other)
        assert report and any("署名" in json.dumps(r, ensure_ascii=False) for r in report)
        assert PROC
    finally:
        egov.http.close()


def test_bulk_submit_refuses_filings_it_cannot_sign_and_sends_nothing(api, sandbox, tokens):
    c = api
    t = str(uuid.uuid4())
    staff = bearer(tokens.user(t))
    link(c, sandbox, staff, new_account())
    r = c.post(f"{BASE}/filings", headers=staff, json=body(sign=True))
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    r = c.post(f"{BASE}/filings/bulk-submit", headers={**staff, "Idempotency-Key": "b-1"}, json={"filing_ids": [fid]})
    assert r.status_code == 409 and r.json()["type"].endswith("/certificate-required")
    assert r.json()["filings"] == [{"filing_id": fid, "code": "certificate-required"}]
    r = submit(c, staff, fid, "k-1")
    assert r.status_code == 409 and r.json()["type"].endswith("/certificate-required")
    assert sandbox.requests(path="/shinsei/v2/bulk-apply") == [] and sandbox.requests(path="/shinsei/v2/apply") == []
    # once a certificate is there, the same key sends (the refused request did not spend it)
    assert upload(c, staff, make_p12()[0]).status_code == 201
    r = submit(c, staff, fid, "k-1")
    assert r.status_code == 200 and r.json()["filing"]["status"] == "arrived", r.text
    detail = c.get(f"{BASE}/filings/{fid}/history", headers=staff).json()
    assert [p["signed"] for p in detail["packages"]] == [True]
