"""Virus scanning with a real clamd, started by the fixture with a test-built signature for the
EICAR string (tests/files/clamd.py): infected uploads refused with problem+json and recorded
(row + events, bytes not kept); clean ones pass; an unreachable clamd keeps a file quarantined,
never served, until a later scan clears it."""

from __future__ import annotations

from sqlalchemy import select

from services.files import service
from services.files.models import StoredFile
from services.files.scanner import ClamdScanner
from services.files.settings import FilesSettings
from shared.db import Database
from tests.conftest import bearer
from tests.files import samples
from tests.files.clamd import SIGNATURE
from tests.files.support import tenant as new_tenant
from tests.files.test_api import BASE, assert_problem, post, put
from tests.services.support import assert_matches_contract, outbox_payloads

PDF_WITH_EICAR = b"%PDF-1.7\n" + samples.EICAR + b"\n%%EOF\n"


def test_scanner_client_against_clamd(clamd):
    scanner = clamd.scanner()
    assert scanner.ping()
    assert scanner.scan([samples.EICAR]).signature == f"{SIGNATURE}.UNOFFICIAL"
    assert scanner.scan([samples.EICAR[:30], samples.EICAR[30:]]).clean is False  # split across chunks
    assert scanner.scan([samples.PDF]).clean is True


def test_eicar_is_refused_and_recorded(service_client, tokens, settings, clamd, tmp_path):
    c = service_client("files", files_settings=FilesSettings(storage_dir=tmp_path), scanner=clamd.scanner())
    tenant = new_tenant()
    token = tokens.user(tenant)
    ok = put(c, token, samples.PDF, "ok.pdf")
    assert ok.status_code == 201 and ok.json()["scan_status"] == "clean"
    assert [e["type"] for e in outbox_payloads(settings, "files", ok.json()["id"])] == [
        "roumu.files.file.uploaded", "roumu.files.file.scanned"]

    # The bare EICAR string is no allowed type: refused by its content before any scan.
    assert_problem(put(c, token, samples.EICAR, "eicar.pdf"), 415, "file-content-mismatch")
    assert_problem(put(c, token, samples.EICAR, "eicar.com"), 415, "file-type-not-allowed")

    # Inside a PDF, and inside a ZIP member: the scanner's refusal.
    for send, data, name in ((put, PDF_WITH_EICAR, "請求書.pdf"),
                             (post, samples.zip_bytes({"書類/請求書.pdf": PDF_WITH_EICAR}), "書類.zip")):
        body = assert_problem(send(c, token, data, name), 422, "file-infected")
        assert body["signature"] == f"{SIGNATURE}.UNOFFICIAL"
        events = outbox_payloads(settings, "files", body["file_id"])
        assert [e["type"] for e in events] == ["roumu.files.file.infected", "roumu.files.file.scanned"]
        for e in events:
            assert_matches_contract(e)
        r = c.get(f"{BASE}/files/{body['file_id']}", headers=bearer(token))
        assert r.json()["status"] == "infected" and r.json()["scan_status"] == "infected"
        assert_problem(c.get(f"{BASE}/files/{body['file_id']}/content", headers=bearer(token)), 410, "file-gone")
    # Nothing of the infected files is stored; usage counts the clean one only.
    assert len([p for p in (tmp_path / "objects").rglob("*") if p.is_file()]) == 1
    assert c.get(f"{BASE}/usage", headers=bearer(token)).json()["files_count"] == 1


def test_quarantined_until_a_scan_clears_it(service_client, tokens, settings, clamd, tmp_path):
    down = ClamdScanner(f"unix:{tmp_path / 'nobody-listens.sock'}", timeout=5)
    c = service_client("files", files_settings=FilesSettings(storage_dir=tmp_path / "s"), scanner=down)
    token = tokens.user(new_tenant())
    clean = put(c, token, samples.PDF, "a.pdf").json()
    bad = put(c, token, PDF_WITH_EICAR, "b.pdf").json()
    for f in (clean, bad):
        assert f["status"] == "quarantined" and f["scan_status"] == "pending"
        assert_problem(c.get(f"{BASE}/files/{f['id']}/content", headers=bearer(token)), 409, "file-quarantined")
        assert_problem(c.post(f"{BASE}/files/{f['id']}/download-link", headers=bearer(token)), 409,
                       "file-quarantined")

    ctx = c.app.state.runtime.extras["files"]
    db = Database(settings.database_url("files"))
    assert service.rescan_quarantined(db, ctx) == 0  # still down: nothing decided
    ctx.scanner = clamd.scanner()
    assert service.rescan_quarantined(db, ctx) >= 2
    assert c.get(f"{BASE}/files/{clean['id']}/content", headers=bearer(token)).content == samples.PDF
    after = c.get(f"{BASE}/files/{bad['id']}", headers=bearer(token)).json()
    assert after["status"] == "infected" and after["scan_status"] == "infected"
    with db.sessions() as s:
        row = s.execute(select(StoredFile).where(StoredFile.id == bad["id"])).scalar_one()
        assert row.storage_key is None and row.wrapped_key is None
    db.dispose()
    types = [e["type"] for e in outbox_payloads(settings, "files", bad["id"])]
    assert types == ["roumu.files.file.uploaded", "roumu.files.file.scanned", "roumu.files.file.infected"]
    for e in outbox_payloads(settings, "files", bad["id"]):
        assert_matches_contract(e)
