"""The My Number inside e-filing packages (issue 18, item 1): a package is kept sealed (AAD bound to
its row), a download shows the number only to a holder of the unmasked view on the filing's 事業所
and is then recorded as a view of that person's number; everyone else — partners included — gets
the 個人番号 elements blanked. Packages kept in clear before sealing are sealed when the service
starts and still download as they were sent."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from services.efiling import packages
from services.efiling.models import FilingPackage
from shared.crypto import CryptoError, load_data_keys
from shared.db import Database
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER
from tests.conftest import bearer
from tests.security.common import all_tables_text
from tests.services.efiling.test_api import BASE, api, body, forms, link, submit, track  # noqa: F401 - api: fixture
from tests.services.egov_support import new_account
from tests.services.support import assert_matches_contract, outbox_payloads


def my_number() -> str:
    """A valid 個人番号 nobody else in the session uses (check digit per 総務省令第85号 5条)."""
    body11 = f"{uuid.uuid4().int % 10**11:011d}"
    digits = [int(c) for c in reversed(body11)]
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(digits, start=1))
    rest = total % 11
    return body11 + str(0 if rest <= 1 else 11 - rest)


def partner(tokens: Any, tenant_id: str, scopes: str) -> dict[str, str]:
    return bearer(tokens.access.sign({"sub": f"pc_{uuid.uuid4().hex[:12]}", "tid": tenant_id, "typ": "partner",
                                      "scope": scopes, "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, 300))


def xml_numbers(data: bytes) -> list[str]:
    """The text of every 個人番号 element of every XML file of a package."""
    from lxml import etree

    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            if name.endswith(".xml"):
                root = etree.fromstring(zf.read(name))
                out += [el.text or "" for el in root.iter("個人番号")]
    return out


@pytest.fixture
def efiling_db(settings):
    db = Database(settings.database_url("efiling"))
    yield db
    db.dispose()


def requested(c, tokens, tenant: str, number: str, person: str, jigyosho: str = "js-1") -> str:
    """A filing asked for by koyo_hoken, as its hand-off does: the form data holds the number."""
    h = {**bearer(tokens.service("koyo_hoken", "efiling", tenant)), "Idempotency-Key": str(uuid.uuid4())}
    r = c.post(f"{BASE}/filings", headers=h,
               json=body(jigyosho, forms=forms(個人番号=number), insured_person_id=person))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_packages_are_sealed_and_show_the_number_only_with_the_unmask_grant(api, sandbox, tokens, grants,  # noqa: F811
                                                                             settings, efiling_db):
    c = api()
    tenant, number, person = str(uuid.uuid4()), my_number(), str(uuid.uuid4())
    staff = bearer(tokens.user(tenant))  # every menu for writing, not the unmasked view of My Number
    link(c, sandbox, staff, new_account())

    fid = requested(c, tokens, tenant, number, person)
    r = submit(c, staff, fid)
    assert r.status_code == 200 and r.json()["filing"]["status"] == "arrived", r.text
    bulk_ids = [requested(c, tokens, tenant, number, person) for _ in range(2)]
    r = c.post(f"{BASE}/filings/bulk-submit", headers={**staff, "Idempotency-Key": str(uuid.uuid4())},
               json={"filing_ids": bulk_ids})
    assert r.status_code == 200 and {i["status"] for i in r.json()["items"]} == {"arrived"}, r.text
    # e-Gov did receive the number (the point of filing it) …
    [apply] = [x for x in sandbox.requests(path="/shinsei/v2/apply", method="POST")]
    sent = base64.b64decode(json.loads(apply["body"])["send_file"]["file_data"])
    assert xml_numbers(sent) == [number]

    # … and nothing in efiling's database holds it in clear, however deep one looks.
    with efiling_db.sessions() as session:
        kept = session.execute(select(FilingPackage).where(
            FilingPackage.filing_id.in_([fid, *bulk_ids]))).scalars().all()
        assert len(kept) == 3
        assert all(p.zip_data is None and p.zip_sealed for p in kept)
        [mine] = [p for p in kept if p.filing_id == fid]
        other = next(p for p in kept if p.filing_id != fid)
    found = [where for where, text in all_tables_text(settings, "efiling") if number in text]
    assert not found, f"the My Number in clear in {found}"
    # Sealed to its row: the value copied onto another package does not open.
    keys = load_data_keys(settings.keys_dir)
    assert packages.zip_of(keys, mine) == sent
    assert mine.zip_sealed is not None
    other.zip_sealed = mine.zip_sealed
    with pytest.raises(CryptoError):
        packages.zip_of(keys, other)

    url = f"{BASE}/filings/{fid}/packages/{mine.id}"
    # Staff with 電子申請 but without the unmasked view: blanked.
    r = c.get(url, headers=staff)
    assert r.status_code == 200 and r.headers["x-roumu-my-number"] == "blanked"
    assert number not in r.content.decode("latin-1") and xml_numbers(r.content) == [""]
    # A partner with filings:read (no scope reads My Numbers): blanked.
    r = c.get(url, headers=partner(tokens, tenant, "filings:read employees:write"))
    assert r.status_code == 200 and r.headers["x-roumu-my-number"] == "blanked" and xml_numbers(r.content) == [""]
    # 電子申請 read alone: blanked.
    grants.seed(tenant, "u-other", {"efiling": "read", "my_number_unmasked": "read"}, jigyosho_all=True)
    grants.seed(tenant, "u-narrow", {"efiling": "read"}, jigyosho_all=True)
    r = c.get(url, headers=bearer(tokens.user(tenant, "u-narrow")))
    assert r.headers["x-roumu-my-number"] == "blanked"
    # The unmasked view on the filing's 事業所: exactly as sent, and recorded as a view.
    viewer = bearer(tokens.user(tenant, "u-other"))
    r = c.get(url, headers=viewer)
    assert r.status_code == 200 and r.headers["x-roumu-my-number"] == "shown" and r.content == sent

    events = outbox_payloads(settings, "efiling", fid)
    for e in events:
        assert_matches_contract(e)
        assert number not in json.dumps(e, ensure_ascii=False)
    views = [e for e in events if e["type"] == "roumu.efiling.my_number.viewed"]
    assert [(v["actor"]["id"], v["subject"]["insured_person_id"], v["subject"]["package_id"]) for v in views] == [
        ("u-other", person, mine.id)]
    downloads = [(e["actor"]["id"], e["data"]["disclosure"]) for e in events
                 if e["type"] == "roumu.efiling.package.downloaded"]
    assert downloads[0] == ("u-1", "blanked") and downloads[2:] == [("u-narrow", "blanked"), ("u-other", "shown")]
    assert len(downloads) == 4

    # A 公文書 download is in the operation log too.
    track(settings, sandbox)
    detail = c.get(f"{BASE}/filings/{fid}/history", headers=staff).json()
    [doc] = detail["documents"]
    assert c.get(f"{BASE}/filings/{fid}/documents/{doc['id']}", headers=staff).status_code == 200
    docs = [e for e in outbox_payloads(settings, "efiling", fid) if e["type"] == "roumu.efiling.document.downloaded"]
    assert [(e["actor"]["id"], e["subject"]["document_id"]) for e in docs] == [("u-1", doc["id"])]
    assert_matches_contract(docs[0])


def test_a_package_without_a_number_downloads_as_sent_and_records_none(api, sandbox, tokens, settings):  # noqa: F811
    c = api()
    tenant = str(uuid.uuid4())
    staff = bearer(tokens.user(tenant))
    link(c, sandbox, staff, new_account())
    fid = c.post(f"{BASE}/filings", headers=staff, json=body()).json()["id"]
    assert submit(c, staff, fid).status_code == 200
    [pkg] = c.get(f"{BASE}/filings/{fid}/history", headers=staff).json()["packages"]
    r = c.get(f"{BASE}/filings/{fid}/packages/{pkg['id']}", headers=staff)
    [apply] = sandbox.requests(path="/shinsei/v2/apply", method="POST")
    assert r.headers["x-roumu-my-number"] == "none"
    assert base64.b64encode(r.content).decode() == json.loads(apply["body"])["send_file"]["file_data"]
    types = [e["type"] for e in outbox_payloads(settings, "efiling", fid)]
    assert types.count("roumu.efiling.package.downloaded") == 1 and "roumu.efiling.my_number.viewed" not in types


def test_packages_kept_in_clear_before_sealing_are_sealed_at_start(api, sandbox, tokens, settings,  # noqa: F811
                                                                  efiling_db):
    """The migration path: rows written before sealing hold the ZIP in `zip_data`; the service
    seals them when it starts, and they download exactly as before."""
    c = api()
    tenant, number = str(uuid.uuid4()), my_number()
    staff = bearer(tokens.user(tenant))
    fid = c.post(f"{BASE}/filings", headers=staff, json=body()).json()["id"]
    legacy = _zip_with(number)
    pid = str(uuid.uuid4())
    with efiling_db.transaction() as session:
        session.add(FilingPackage(id=pid, filing_id=fid, tenant_id=tenant, kind="apply", file_name="legacy.zip",
                                  zip_data=legacy, zip_sealed=None, sha256=hashlib.sha256(legacy).hexdigest(),
                                  signed=False, created_at=datetime.now(UTC)))
    # Before the restart a clear row is read as it is (the marker: no sealed value).
    assert c.get(f"{BASE}/filings/{fid}/packages/{pid}", headers=staff).headers["x-roumu-my-number"] == "blanked"

    api()  # another start of the service
    with efiling_db.sessions() as session:
        row = session.get(FilingPackage, pid)
        assert row is not None and row.zip_data is None and row.zip_sealed
    assert not [w for w, text in all_tables_text(settings, "efiling") if number in text]
    keys = load_data_keys(settings.keys_dir)
    assert packages.zip_of(keys, row) == legacy
    r = c.get(f"{BASE}/filings/{fid}/packages/{pid}", headers=staff)
    assert r.status_code == 200 and xml_numbers(r.content) == [""]


def _zip_with(number: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("4950008680033000/kousei.xml", "<DataRoot><構成情報/></DataRoot>")
        zf.writestr("4950008680033000/495008680033800330_01.xml",
                    f"<?xml version='1.0' encoding='UTF-8'?>\n<DataRoot><個人番号>{number}</個人番号></DataRoot>")
    return buf.getvalue()
