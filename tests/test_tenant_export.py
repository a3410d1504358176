"""Return before deletion (返却, issue 24.5): a whole-tenant export.

Two tenants are seeded in every service (persons with My Numbers, a 労働保険事務組合 member, a
filing, an uploaded file, a webhook endpoint, the audit trail). The operator exports one tenant as
ops.tenant_export does (each service's own share over HTTP, the manifest signed by accounts):

* the signature verifies with the `openssl` CLI against the key published at /certificate-keys
  (rebuilt as PEM from the JWKS by hand, not by our code), and fails after a changed byte;
* every file matches the manifest's SHA-256 and size (sha256 of the bytes on disk);
* without a recipient key no My Number is anywhere in the export; with the tenant's X25519 key
  (made by `openssl genpkey`) they are in one encrypted file that the tenant's private key opens
  and another key does not; the digits are in no file in clear;
* the original file comes back byte for byte; no row, name or file of the other tenant is there;
* the export is in the tenant's audit log as an operator action, listed and downloadable for the
  tenant's administrator (not for staff, not for another tenant), and shown on the termination view;
* round trip: the CSVs load into the databases of a fresh installation (migrated to head) as a new
  tenant, and the rows per entity there equal the manifest's counts."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import subprocess
import tarfile
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import MetaData, create_engine, func, select

from ops import tenant_export
from ops.migrate import migrations_dir, upgrade
from services.accounts.events import PURGING_SERVICES
from services.efiling import context as efiling_context
from services.efiling import packages
from services.efiling.models import FilingPackage
from shared.tenant_export import Recipient, seal_to
from tests.accounts.conftest import BASE, add_jigyosho, add_user, open_tenant, wait_for
from tests.conftest import bearer
from tests.support.jigyosho import wait_for_jigyosho

pytestmark = pytest.mark.slow

MY_NUMBERS = {"t": ["123456789018", "987654321093"], "other": ["111111111118"]}
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)


def x25519_pair(tmp: Path, name: str) -> tuple[Path, Path]:
    priv, pub = tmp / f"{name}.key", tmp / f"{name}.pub"
    assert openssl("genpkey", "-algorithm", "X25519", "-out", str(priv)).returncode == 0
    assert openssl("pkey", "-in", str(priv), "-pubout", "-out", str(pub)).returncode == 0
    return priv, pub


def pem_from_jwk(jwk: dict[str, str]) -> bytes:
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    der = ED25519_SPKI_PREFIX + raw
    return b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END PUBLIC KEY-----\n"


def all_bytes(folder: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def seed(clients, accounts, settings, tokens, tenant, key: str) -> dict[str, object]:
    js = add_jigyosho(accounts, tenant, name=f"株式会社{key}製作所")
    wait_for_jigyosho(settings, tenant.id, js)
    _, staff = add_user(accounts, tenant, tokens, f"staff-{key}", {"koyo_hoken": "write", "jimukumiai": "write",
                                                                  "efiling": "write", "files": "write"})
    persons = []
    for i, mn in enumerate(MY_NUMBERS[key]):
        body = {"jigyosho_id": js, "family_name": f"{key}山田{i}", "given_name": "太郎", "family_name_kana": "ヤマダ",
                "given_name_kana": "タロウ", "birth_date": "1990-04-01", "hire_date": "2026-04-01",
                "weekly_hours": "40", "my_number": mn}
        r = wait_for(lambda b=body: (x := clients["koyo_hoken"].post(
            "/api/v1/koyo-hoken/insured-persons", headers=bearer(staff), json=b)).status_code == 201 and x)
        persons.append(r.json()["id"])
    assert clients["jimukumiai"].post("/api/v1/jimukumiai/members", headers=bearer(tenant.admin_token), json={
        "jigyosho_id": js, "name": f"株式会社{key}製作所", "labour_insurance_number": "13101912340001",
        "entrusted_from": "2026-04-01", "regular_workers": 12, "main_business": "other",
        "koyo_kubun": "ippan"}).status_code == 201
    r = clients["efiling"].post("/api/v1/efiling/filings", headers=bearer(tenant.admin_token), json={
        "jigyosho_id": js, "procedure_code": "950A010002012000", "title": f"資格取得届 {key}"})
    assert r.status_code == 201, r.text
    package = sent_package(clients["efiling"], tenant.id, r.json()["id"], MY_NUMBERS[key][0])
    content = f"%PDF-1.4\n% 返却テスト {key} {tenant.id}\n".encode() * 50
    r = clients["files"].post("/api/v1/files/files", params={"jigyosho_id": js}, headers=bearer(staff),
                              files={"file": (f"雇用契約書-{key}.pdf", content, "application/pdf")})
    assert r.status_code == 201, r.text
    assert clients["webhooks"].post("/api/v1/webhooks/endpoints", headers=bearer(tenant.admin_token), json={
        "url": f"https://partner.example/{key}", "event_types": ["procedure.completed"]}).status_code == 201
    return {"jigyosho": js, "persons": persons, "file_id": r.json()["id"], "content": content, "staff": staff,
            "package": package}


def sent_package(efiling, tenant_id: str, filing_id: str, my_number: str) -> FilingPackage:
    """A package as a submission keeps it (sealed, packages.seal_into), its form holding a My Number."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("950A010002012000/form.xml",
                    f"<DataRoot><氏名>山田太郎</氏名><個人番号>{my_number}</個人番号></DataRoot>")
    data = buf.getvalue()
    rt = efiling.app.state.runtime
    row = FilingPackage(id=str(uuid.uuid4()), filing_id=filing_id, tenant_id=tenant_id, kind="apply",
                        file_name="950A010002012000.zip", sha256=hashlib.sha256(data).hexdigest(), signed=False,
                        created_at=datetime.now(UTC))
    packages.seal_into(efiling_context.of(rt).egov.keys, row, data)
    with rt.db.transaction() as session:
        session.add(row)
    row.zip_data = data  # the test's copy of the ZIP as sent (the row stored holds it sealed)
    return row


def test_rsa_recipient_opens_with_openssl(tmp_path: Path) -> None:
    """The RSA variant: the content key unwrapped by `openssl pkeyutl` (OAEP, SHA-256), the
    AES-256-GCM body opened with it; the layout as docs/tenant-export.md describes it."""
    priv = tmp_path / "rsa.key"
    r = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(priv))
    assert r.returncode == 0
    pub = openssl("pkey", "-in", str(priv), "-pubout").stdout.decode()
    blob = seal_to(Recipient.from_pem(pub), b"insured_person_id,my_number\r\np-1,123456789018\r\n")
    assert blob[:4] == b"RTR1" and b"123456789018" not in blob
    n = int.from_bytes(blob[4:6], "big")
    (tmp_path / "wrapped").write_bytes(blob[6:6 + n])
    r = openssl("pkeyutl", "-decrypt", "-inkey", str(priv), "-in", str(tmp_path / "wrapped"),
                "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
    assert r.returncode == 0, r.stderr
    body = blob[6 + n:]
    assert AESGCM(r.stdout).decrypt(body[:12], body[12:], blob[:6 + n]).endswith(b"p-1,123456789018\r\n")
    # A short RSA key or a key of another kind is refused.
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    with pytest.raises(ValueError, match="2048"):
        Recipient.from_pem(small.public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode())
    assert padding and hashes  # imported for readers comparing with shared/tenant_export.py


def test_whole_tenant_export_signed_encrypted_and_round_trips(service_client, tokens, settings, tmp_path):
    accounts = service_client("accounts")
    clients = {name: service_client(name) for name in
               ("auth", "koyo_hoken", "jimukumiai", "efiling", "files", "audit_log", "webhooks", "shakai_hoken")}
    clients["accounts"] = accounts
    t = open_tenant(accounts, tokens, contract_end="2027-03-31")
    other = open_tenant(accounts, tokens)
    mine = seed(clients, accounts, settings, tokens, t, "t")
    theirs = seed(clients, accounts, settings, tokens, other, "other")
    op = tokens.operator("yamada")

    def audit_entries(tid):
        r = clients["audit_log"].get("/api/v1/audit-log/entries", params={"limit": 500},
                                     headers=bearer(tokens.service("tests", "audit_log", tid)))
        return r.json()["items"]
    wait_for(lambda: len(audit_entries(t.id)) >= 8, timeout=30)

    # Not for a tenant's own user, nor with a bad recipient key.
    r = clients["koyo_hoken"].post(f"/api/v1/koyo-hoken/internal/tenant-export/{t.id}",
                                   headers=bearer(t.admin_token), json={})
    assert r.status_code == 403
    r = clients["koyo_hoken"].post(f"/api/v1/koyo-hoken/internal/tenant-export/{t.id}", headers=bearer(op),
                                   json={"recipient_public_key": "-----BEGIN PUBLIC KEY-----\nxx\n"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")

    # 1. Without My Numbers.
    plain = tmp_path / "plain"
    manifest = tenant_export.collect(clients, op, t.id, plain)
    done = tenant_export.sign_and_store(accounts, op, t.id, plain, manifest)
    jwks = accounts.get(f"{BASE}/certificate-keys").json()["keys"]
    pem = tmp_path / "cert.pem"
    pem.write_bytes(pem_from_jwk(next(k for k in jwks if k["kid"] == done["key_id"])))
    verify = ("pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin", "-in", str(plain / "manifest.json"),
              "-sigfile", str(plain / "manifest.sig"))
    r = openssl(*verify)
    assert r.returncode == 0 and b"Signature Verified Successfully" in r.stdout, r.stdout + r.stderr
    doc = json.loads((plain / "manifest.json").read_bytes())
    assert doc["tenant"] == {"id": t.id, "code": t.code, "name": "テスト社会保険労務士事務所"}
    assert doc["operator"] == "yamada" and doc["my_numbers"] == {"included": False}
    for f in doc["files"]:
        data = (plain / f["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"], f["path"]
    rows = {f["entity"]: f["rows"] for f in doc["files"] if "entity" in f}
    assert rows["koyo_hoken.insured_persons"] == 2 and rows["jimukumiai.members"] == 1
    assert rows["efiling.filings"] == 1 and rows["files.files"] == 1 and rows["webhooks.webhook_endpoints"] == 1
    assert rows["accounts.tenants"] == 1 and rows["accounts.users"] == 2 and rows["accounts.jigyosho"] == 1
    assert rows["auth.credentials"] == 2 and rows["audit_log.audit_entries"] >= 8
    assert {f["path"].split("/")[0] for f in doc["files"]} == set(PURGING_SERVICES)
    # The CSV's own count agrees with the manifest (csv module, header row).
    with (plain / "koyo_hoken" / "insured_persons.csv").open(encoding="utf-8", newline="") as fh:
        persons = list(csv.DictReader(fh))
    assert sorted(p["id"] for p in persons) == sorted(mine["persons"])
    assert "my_number_sealed" not in persons[0] and {p["tenant_id"] for p in persons} == {t.id}
    # Secrets are not exported: no password hash, no TOTP secret column.
    with (plain / "auth" / "credentials.csv").open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert not [c for c in header if "password" in c or "secret" in c]
    # The original file, byte for byte.
    [original] = [f for f in doc["files"] if f.get("original_file") and f["path"].startswith("files/")]
    assert original["path"].startswith(f"files/files/{mine['file_id']}/")
    assert (plain / original["path"]).read_bytes() == mine["content"]
    # No My Number anywhere; nothing of the other tenant.
    everything = all_bytes(plain)
    for mn in MY_NUMBERS["t"] + MY_NUMBERS["other"]:
        assert mn.encode() not in everything
    assert t.id.encode() in everything
    for needle in (other.id, other.code, "other山田", "株式会社other製作所", theirs["file_id"]):
        assert needle.encode() not in everything, needle
    assert theirs["content"][:40] not in everything
    # The package as sent to e-Gov, its My Number emptied; nothing else of it changed; the other
    # tenant's not there.
    pkg = mine["package"]
    sent = plain / "efiling" / "packages" / pkg.filing_id / f"{pkg.id}.zip"
    assert rows["efiling.filing_packages"] == 1 and not packages.carries_my_number(sent.read_bytes())
    with zipfile.ZipFile(sent) as zf:
        form = ElementTree.fromstring(zf.read("950A010002012000/form.xml"))
    assert form.findtext("氏名") == "山田太郎" and not form.findtext("個人番号")
    assert not (sent.parent / f"{pkg.id}.zip.enc").exists()
    assert not (plain / "efiling" / "packages" / theirs["package"].filing_id).exists()
    # Any changed byte is caught: the manifest by openssl, a data file by the manifest.
    saved = (plain / "manifest.json").read_bytes()
    (plain / "manifest.json").write_bytes(saved.replace(b'"rows":2', b'"rows":3', 1))
    assert openssl(*verify).returncode != 0
    (plain / "manifest.json").write_bytes(saved)
    target = plain / "koyo_hoken" / "insured_persons.csv"
    good = target.read_bytes()
    target.write_bytes(good.replace("太郎".encode(), "次郎".encode(), 1))
    with pytest.raises(tenant_export.ExportError, match=r"insured_persons\.csv"):
        tenant_export.verify(plain, serialization.load_pem_public_key(pem.read_bytes()))  # type: ignore[arg-type]
    target.write_bytes(good)

    # 2. With My Numbers, encrypted to the tenant's X25519 key.
    tenant_priv, tenant_pub = x25519_pair(tmp_path, "tenant")
    stranger_priv, _ = x25519_pair(tmp_path, "stranger")
    full = tmp_path / "full"
    manifest = tenant_export.collect(clients, op, t.id, full, Recipient.from_pem(tenant_pub.read_text()))
    done2 = tenant_export.sign_and_store(accounts, op, t.id, full, manifest)
    assert openssl("pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin", "-in", str(full / "manifest.json"),
                   "-sigfile", str(full / "manifest.sig")).returncode == 0
    doc2 = tenant_export.verify(full, serialization.load_pem_public_key(pem.read_bytes()))  # type: ignore[arg-type]
    der = openssl("pkey", "-pubin", "-in", str(tenant_pub), "-outform", "DER").stdout
    fingerprint = hashlib.sha256(der).hexdigest()
    assert doc2["my_numbers"]["included"] and doc2["my_numbers"]["recipient_fingerprint"] == fingerprint
    everything = all_bytes(full)
    for mn in MY_NUMBERS["t"] + MY_NUMBERS["other"]:
        assert mn.encode() not in everything
    enc = full / "koyo_hoken" / "my_numbers.csv.enc"
    opened = tenant_export.decrypt(enc, tenant_priv.read_bytes()).decode()
    assert dict(list(csv.reader(io.StringIO(opened)))[1:]) == dict(zip(mine["persons"], MY_NUMBERS["t"], strict=True))
    with pytest.raises(InvalidTag):
        tenant_export.decrypt(enc, stranger_priv.read_bytes())
    # The package exactly as sent, to the tenant's key only; the readable copy still blanked.
    sent_enc = full / "efiling" / "packages" / pkg.filing_id / f"{pkg.id}.zip.enc"
    assert tenant_export.decrypt(sent_enc, tenant_priv.read_bytes()) == pkg.zip_data
    assert next(f for f in doc2["files"] if f["path"].endswith(".zip.enc"))["encrypted_to"] == fingerprint
    assert not packages.carries_my_number((sent_enc.parent / f"{pkg.id}.zip").read_bytes())
    assert isinstance(serialization.load_pem_private_key(tenant_priv.read_bytes(), None), x25519.X25519PrivateKey)
    assert tenant_export.main(["decrypt", str(enc), "--key", str(tenant_priv)]) == 0
    assert tenant_export.main(["verify", str(full), "--key", str(pem)]) == 0
    assert tenant_export.main(["verify", str(plain), "--key", str(pem)]) == 0

    # 3. Recorded: the tenant's audit log (an operator action), the list, the download, the schedule.
    def exported():
        return [e for e in audit_entries(t.id) if e["type"] == "roumu.accounts.tenant.exported"]
    found = wait_for(lambda: len(exported()) == 2 and exported(), timeout=30)
    assert {e["actor_kind"] for e in found} == {"operator"} and {e["actor_id"] for e in found} == {"yamada"}
    assert sorted(e["data"]["encrypted_to_tenant_key"] for e in found) == [[], ["my_numbers"]]
    assert not [e for e in audit_entries(other.id) if e["type"] == "roumu.accounts.tenant.exported"]
    r = accounts.get(f"{BASE}/tenants/{t.id}/exports", headers=bearer(t.admin_token))
    assert r.status_code == 200 and [x["id"] for x in r.json()] == [done["export_id"], done2["export_id"]]
    assert [x["my_numbers_included"] for x in r.json()] == [False, True]
    r = accounts.get(f"{BASE}/tenants/{t.id}/exports/{done2['export_id']}/archive", headers=bearer(t.admin_token))
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == done2["archive_sha256"]
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        assert tar.extractfile("full/manifest.json").read() == (full / "manifest.json").read_bytes()  # type: ignore[union-attr]
    assert accounts.get(f"{BASE}/tenants/{t.id}/exports", headers=bearer(mine["staff"])).status_code == 403
    assert accounts.get(f"{BASE}/tenants/{t.id}/exports/{done2['export_id']}/archive",
                        headers=bearer(other.admin_token)).status_code == 404
    term = accounts.get(f"{BASE}/tenants/{t.id}/termination", headers=bearer(t.admin_token)).json()
    assert [x["id"] for x in term["exports"]] == [done["export_id"], done2["export_id"]]
    assert term["export_available"] and term["status"] == "scheduled"
    # An archive whose manifest is not the signed one is refused.
    r = accounts.put(f"{BASE}/tenants/{t.id}/exports/{done['export_id']}/archive",
                     headers={**bearer(op), "Content-Type": "application/x-tar"},
                     content=Path(done2["archive"]).read_bytes())
    assert r.status_code == 422 and r.json()["type"].endswith("/manifest-mismatch")

    # 4. Round trip into a fresh installation, as a new tenant.
    urls = {}
    for service in PURGING_SERVICES:
        urls[service] = f"sqlite:///{tmp_path}/fresh-{service}.db"
        upgrade(migrations_dir(service), urls[service])
    new_tid = "00000000-0000-4000-8000-000000000042"
    inserted = tenant_export.import_rows(full, urls, new_tid)
    expected = {f["entity"]: f["rows"] for f in doc2["files"] if "entity" in f}
    assert inserted == expected
    for service, url in urls.items():
        engine = create_engine(url)
        try:
            md = MetaData()
            md.reflect(engine)
            with engine.connect() as conn:
                for table in md.sorted_tables:
                    entity = f"{service}.{table.name}"
                    if entity not in expected:
                        continue
                    n = conn.execute(select(func.count()).select_from(table)).scalar_one()
                    assert n == expected[entity], entity
                    if "tenant_id" in table.c:
                        assert conn.execute(select(func.count()).select_from(table).where(
                            table.c.tenant_id == t.id)).scalar_one() == 0, entity
        finally:
            engine.dispose()
