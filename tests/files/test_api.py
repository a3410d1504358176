"""The files API end to end (real database, real NATS relay): uploads (multipart and raw PUT),
every refusal as problem+json, downloads with their headers, 事業所 scoping, signed links,
deletion, retention, quotas, encryption at rest and the tenant purge of stored objects."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from services.files import references, service
from services.files.models import StoredFile, TenantKey, TenantUsage, messaging, permissions
from services.files.settings import FilesSettings
from services.files.storage import tenant_prefix
from shared.clock import FrozenClock
from shared.db import Database
from shared.events import SYSTEM, EventEnvelope
from shared.purge import PURGE_REQUESTED, TenantPurge
from shared.service_app import accounts_feed_handler
from tests.conftest import bearer
from tests.files import samples
from tests.files.support import tenant as new_tenant
from tests.services.support import assert_matches_contract, outbox_payloads

BASE = "/api/v1/files"
JIG = "J-0001"


def put(c, token: str, data: bytes, name: str, jig: str = JIG, file_id: str | None = None, **params: Any):
    return c.put(f"{BASE}/files/{file_id or uuid.uuid4()}", params={"jigyosho_id": jig, **params}, content=data,
                 headers={**bearer(token), "Content-Type": "application/octet-stream",
                          "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"})


def post(c, token: str, data: bytes, name: str, jig: str = JIG, **params: Any):
    return c.post(f"{BASE}/files", params={"jigyosho_id": jig, **params}, headers=bearer(token),
                  files={"file": (name, data, "application/octet-stream")})


def assert_problem(r, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/" + slug), body
    assert body["title"] and body["status"] == status
    return body


def known_procedure(c, tenant_id: str, procedure_id: str, jigyosho_id: str) -> None:
    """As if koyo_hoken's procedure.created had reached the files service (services/files/references.py)."""
    event = EventEnvelope(type=references.PROCEDURE_CREATED, tenant_id=tenant_id, actor=SYSTEM,
                          subject={"procedure_id": procedure_id, "tenant_id": tenant_id, "jigyosho_id": jigyosho_id,
                                   "insured_person_id": "ip-1"},
                          data={"kind": "shikaku_shutoku", "state": "draft", "event_date": "2026-12-01",
                                "due_date": "2027-01-13"})
    with c.app.state.runtime.db.transaction() as session:
        references.on_event(session, event)


@pytest.fixture
def files(service_client, tmp_path):
    """service_client for files with its own storage folder; answers (client, storage root)."""
    def open_files(**kwargs: Any):
        fs = kwargs.pop("files_settings", None) or FilesSettings(storage_dir=tmp_path / "store")
        return service_client("files", files_settings=fs, **kwargs), fs.storage_dir
    return open_files


@pytest.mark.parametrize("via", ["multipart", "put"])
def test_upload_then_download_with_safe_headers_and_events(files, tokens, settings, via):
    c, root = files()
    tenant = new_tenant()
    token = tokens.user(tenant)
    name = "山田太郎_資格取得届 2026年4月.pdf"
    send = post if via == "multipart" else put
    known_procedure(c, tenant, "P-1", JIG)
    r = send(c, token, samples.PDF, name, procedure_id="P-1")
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["original_name"] == name and f["content_type"] == "application/pdf"
    assert f["size_bytes"] == len(samples.PDF) and f["sha256"] == hashlib.sha256(samples.PDF).hexdigest()
    assert f["status"] == "available" and f["scan_status"] == "skipped"
    assert f["jigyosho_id"] == JIG and f["procedure_id"] == "P-1"
    assert r.headers["location"] == f"{BASE}/files/{f['id']}"

    # At rest: sealed, stored by id, the name nowhere in the path.
    [stored] = [p for p in (root / "objects").rglob("*") if p.is_file()]
    assert stored.name == f["id"] and samples.PDF not in stored.read_bytes()

    d = c.get(f"{BASE}/files/{f['id']}/content", headers=bearer(token))
    assert d.status_code == 200 and d.content == samples.PDF
    assert d.headers["content-type"] == "application/pdf"
    assert d.headers["x-content-type-options"] == "nosniff"
    assert d.headers["content-disposition"].startswith("attachment; ")
    assert "filename*=UTF-8''" + quote(name, safe="") in d.headers["content-disposition"]
    assert "sandbox" in d.headers["content-security-policy"]

    types = [e["type"] for e in outbox_payloads(settings, "files", f["id"])]
    assert types == ["roumu.files.file.uploaded", "roumu.files.file.downloaded"]
    for e in outbox_payloads(settings, "files", f["id"]):
        assert_matches_contract(e)
        assert "山田" not in str(e)


@pytest.mark.parametrize(("ext", "data", "ctype"), [
    ("docx", samples.docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xlsx", samples.xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("doc", samples.doc(), "application/msword"), ("xls", samples.xls(), "application/vnd.ms-excel"),
    ("PNG", samples.PNG, "image/png"), ("jpeg", samples.JPEG, "image/jpeg"), ("gif", samples.GIF, "image/gif"),
    ("zip", samples.zip_bytes({"a.pdf": samples.PDF, "b.xlsx": samples.xlsx()}), "application/zip"),
])
def test_every_allowed_type_is_accepted_and_served_as_itself(files, tokens, ext, data, ctype):
    c, _ = files()
    token = tokens.user(new_tenant())
    r = put(c, token, data, f"書類.{ext}")
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == ctype
    d = c.get(f"{BASE}/files/{r.json()['id']}/content", headers=bearer(token))
    assert d.content == data and d.headers["content-type"] == ctype


REFUSALS = [
    ("exe", "setup.exe", samples.EXE, 415, "file-type-not-allowed"),
    ("exe renamed pdf", "invoice.pdf", samples.EXE, 415, "file-content-mismatch"),
    ("html renamed png", "a.png", b"<html><script>alert(1)</script></html>", 415, "file-content-mismatch"),
    ("zip renamed docx", "a.docx", samples.zip_bytes({"a.pdf": samples.PDF}), 415, "file-content-mismatch"),
    ("docx renamed zip", "a.zip", samples.docx(), 415, "file-content-mismatch"),
    ("xls renamed doc", "a.doc", samples.xls(), 415, "file-content-mismatch"),
    ("empty", "empty.pdf", b"", 422, "file-empty"),
    ("zip bomb", "bomb.zip", samples.zip_bytes({"a.pdf": b"%PDF-" + b"\0" * (30 * 1024 * 1024)}), 422, "zip-refused"),
    ("zip with ../x", "x.zip", samples.zip_bytes({"../x.pdf": samples.PDF}), 422, "zip-refused"),
    ("zip containing exe", "x.zip", samples.zip_bytes({"a.pdf": samples.PDF, "run.exe": samples.EXE}), 422,
     "zip-refused"),
    ("no extension", "README", samples.PDF, 415, "file-type-not-allowed"),
]


@pytest.mark.parametrize("via", ["multipart", "put"])
@pytest.mark.parametrize(("case", "name", "data", "status", "slug"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_are_clear_problems_and_nothing_is_kept(files, tokens, settings, via, case, name, data, status,
                                                         slug):
    c, root = files()
    tenant = new_tenant()
    send = post if via == "multipart" else put
    body = assert_problem(send(c, tokens.user(tenant), data, name), status, slug)
    if slug == "zip-refused":
        assert body["reason"] in ("ratio", "path", "member-type") and body["detail"]
    assert not [p for p in (root / "objects").rglob("*") if p.is_file()]
    assert not [p for p in (root / "tmp").rglob("*") if p.is_file()]
    with Database(settings.database_url("files")).sessions() as s:
        assert s.execute(select(StoredFile).where(StoredFile.tenant_id == tenant)).first() is None


def test_names_with_control_characters_are_refused(files, tokens):
    c, _ = files()
    token = tokens.user(new_tenant())
    for name in ("a\x07b.pdf", "a\nb.pdf", "請求書\u202efdp.pdf"):
        assert_problem(put(c, token, samples.PDF, name), 422, "file-name-invalid")
    assert_problem(post(c, token, samples.PDF, "請求書\u202efdp.pdf"), 422, "file-name-invalid")
    # A raw control byte in the part header (httpx would escape it, so the body is written by hand).
    body = (b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\x1bb.pdf\"\r\n"
            b"Content-Type: application/pdf\r\n\r\n" + samples.PDF + b"\r\n--b0--\r\n")
    r = c.post(f"{BASE}/files", params={"jigyosho_id": JIG}, content=body,
               headers={**bearer(token), "Content-Type": "multipart/form-data; boundary=b0"})
    assert_problem(r, 422, "file-name-invalid")
    assert_problem(put(c, token, samples.PDF, ""), 422, "file-name-invalid")


def test_wrong_media_types_and_malformed_multipart(files, tokens):
    c, _ = files()
    token = tokens.user(new_tenant())
    r = c.put(f"{BASE}/files/{uuid.uuid4()}", params={"jigyosho_id": JIG}, content=samples.PDF,
              headers={**bearer(token), "Content-Type": "application/pdf",
                       "Content-Disposition": "attachment; filename=a.pdf"})
    assert_problem(r, 415, "unsupported-media-type")
    r = c.post(f"{BASE}/files", params={"jigyosho_id": JIG}, content=b"x",
               headers={**bearer(token), "Content-Type": "application/octet-stream"})
    assert_problem(r, 415, "unsupported-media-type")
    r = c.post(f"{BASE}/files", params={"jigyosho_id": JIG}, headers=bearer(token),
               files={"other": ("a.pdf", samples.PDF, "application/pdf")})
    assert_problem(r, 400, "multipart-invalid")
    r = c.post(f"{BASE}/files", params={"jigyosho_id": JIG}, headers=bearer(token),
               files=[("file", ("a.pdf", samples.PDF, "application/pdf")), ("file", ("b.pdf", samples.PDF, "x/y"))])
    assert_problem(r, 400, "multipart-invalid")


def test_put_ids_are_single_use(files, tokens):
    c, _ = files()
    token = tokens.user(new_tenant())
    fid = str(uuid.uuid4())
    assert put(c, token, samples.PDF, "a.pdf", file_id=fid).status_code == 201
    assert_problem(put(c, token, samples.PNG, "a.png", file_id=fid), 409, "file-exists")
    assert c.get(f"{BASE}/files/{fid}/content", headers=bearer(token)).content == samples.PDF


def test_jigyosho_scope_and_menu(files, tokens, grants):
    c, _ = files()
    tenant = new_tenant()
    grants.seed(tenant, "limited", {"files": "write"}, jigyosho_all=False, jigyosho_ids=["J-A"])
    grants.seed(tenant, "reader", {"files": "read"})
    grants.seed(tenant, "nofiles", {"koyo_hoken": "write"})
    admin = tokens.user(tenant)
    limited = tokens.bare_user(tenant, "limited")
    in_b = put(c, admin, samples.PDF, "b.pdf", jig="J-B").json()
    in_a = put(c, limited, samples.PDF, "a.pdf", jig="J-A").json()
    # Outside the grant looks like nothing at all.
    assert_problem(put(c, limited, samples.PDF, "x.pdf", jig="J-B"), 404, "not-found")
    for path in (f"/files/{in_b['id']}", f"/files/{in_b['id']}/content"):
        assert_problem(c.get(BASE + path, headers=bearer(limited)), 404, "not-found")
    assert_problem(c.post(f"{BASE}/files/{in_b['id']}/download-link", headers=bearer(limited)), 404, "not-found")
    assert_problem(c.delete(f"{BASE}/files/{in_b['id']}", headers=bearer(limited)), 404, "not-found")
    listed = c.get(f"{BASE}/files", headers=bearer(limited)).json()["items"]
    assert [f["id"] for f in listed] == [in_a["id"]]
    # Read-only: may download, may not upload or delete; no files menu: nothing.
    reader = tokens.bare_user(tenant, "reader")
    assert c.get(f"{BASE}/files/{in_b['id']}/content", headers=bearer(reader)).status_code == 200
    assert_problem(put(c, reader, samples.PDF, "r.pdf"), 403, "forbidden")
    assert_problem(c.delete(f"{BASE}/files/{in_a['id']}", headers=bearer(reader)), 403, "forbidden")
    nofiles = tokens.bare_user(tenant, "nofiles")
    assert_problem(c.get(f"{BASE}/files/{in_a['id']}/content", headers=bearer(nofiles)), 403, "forbidden")
    # Another tenant: 404.
    other = tokens.user(new_tenant())
    assert_problem(c.get(f"{BASE}/files/{in_a['id']}/content", headers=bearer(other)), 404, "not-found")


def test_signed_download_links(files, tokens, settings):
    clock = FrozenClock(datetime.now(UTC))
    c, _ = files(clock=clock)
    tenant = new_tenant()
    token = tokens.user(tenant)
    f = put(c, token, samples.PDF, "資格取得届.pdf").json()
    link = c.post(f"{BASE}/files/{f['id']}/download-link", headers=bearer(token))
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    assert url.startswith(f"{BASE}/downloads/") and f["id"] not in url
    d = c.get(url)  # no bearer token: the link is the permission
    assert d.status_code == 200 and d.content == samples.PDF
    assert d.headers["x-content-type-options"] == "nosniff"
    assert "filename*=UTF-8''%E8%B3%87" in d.headers["content-disposition"]
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert_problem(c.get(tampered), 403, "link-invalid")
    clock.advance(timedelta(seconds=FilesSettings().download_link_seconds))
    assert_problem(c.get(url), 403, "link-invalid")
    events = [e for e in outbox_payloads(settings, "files", f["id"]) if e["type"] == "roumu.files.file.downloaded"]
    assert [e["data"]["via"] for e in events] == ["link"]
    assert events[0]["actor"]["id"] == "u-1"


def test_delete_retention_and_usage(files, tokens, settings):
    clock = FrozenClock(datetime.now(UTC))
    c, root = files(clock=clock)
    tenant = new_tenant()
    token = tokens.user(tenant)
    keep = put(c, token, samples.PDF, "keep.pdf").json()
    gone = put(c, token, samples.PNG, "gone.png").json()
    expiring = put(c, token, samples.GIF, "old.gif",
                   retention_until=(clock.now() + timedelta(days=30)).isoformat()).json()
    usage = c.get(f"{BASE}/usage", headers=bearer(token)).json()
    assert usage["files_count"] == 3
    assert usage["bytes_used"] == len(samples.PDF) + len(samples.PNG) + len(samples.GIF)

    assert c.delete(f"{BASE}/files/{gone['id']}", headers=bearer(token)).status_code == 204
    assert_problem(c.get(f"{BASE}/files/{gone['id']}/content", headers=bearer(token)), 410, "file-gone")
    assert c.get(f"{BASE}/files/{gone['id']}", headers=bearer(token)).json()["status"] == "deleted"

    db = Database(settings.database_url("files"))
    ctx = c.app.state.runtime.extras["files"]
    assert service.expire_retention(db, ctx) == 0
    clock.advance(timedelta(days=30))
    assert service.expire_retention(db, ctx) == 1
    after = c.get(f"{BASE}/files/{expiring['id']}", headers=bearer(token)).json()
    assert after["status"] == "deleted" and after["deleted_reason"] == "retention"
    assert c.get(f"{BASE}/files/{keep['id']}/content", headers=bearer(token)).content == samples.PDF
    assert c.get(f"{BASE}/usage", headers=bearer(token)).json()["files_count"] == 1
    assert len([p for p in (root / "objects").rglob("*") if p.is_file()]) == 1
    reasons = [e["data"]["reason"] for fid in (gone["id"], expiring["id"])
               for e in outbox_payloads(settings, "files", fid) if e["type"] == "roumu.files.file.deleted"]
    assert reasons == ["user", "retention"]
    for fid in (gone["id"], expiring["id"]):
        for e in outbox_payloads(settings, "files", fid):
            assert_matches_contract(e)
    db.dispose()


def test_quota_per_tenant(files, tokens, tmp_path):
    fs = FilesSettings(storage_dir=tmp_path / "q", quota_bytes=len(samples.PDF) * 2, quota_files=3)
    c, _ = files(files_settings=fs)
    token = tokens.user(new_tenant())
    assert put(c, token, samples.PDF, "1.pdf").status_code == 201
    assert put(c, token, samples.PDF, "2.pdf").status_code == 201
    body = assert_problem(put(c, token, samples.GIF, "3.gif"), 413, "quota-exceeded")
    assert "上限" in body["detail"]
    # Another tenant has its own quota.
    assert put(c, tokens.user(new_tenant()), samples.PDF, "1.pdf").status_code == 201


def test_metadata_only_files_have_no_content(files, tokens):
    c, _ = files()
    token = tokens.user(new_tenant())
    r = c.post(f"{BASE}/files/metadata", headers=bearer(token), json={
        "original_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 3,
        "sha256": hashlib.sha256(b"abc").hexdigest()})
    assert_problem(c.get(f"{BASE}/files/{r.json()['id']}/content", headers=bearer(token)), 409, "file-no-content")


def test_tenant_purge_removes_rows_key_and_stored_objects(files, tokens, settings):
    c, root = files()
    tenant, other = new_tenant(), new_tenant()
    put(c, tokens.user(tenant), samples.PDF, "a.pdf")
    put(c, tokens.user(tenant), samples.PNG, "b.png")
    kept = put(c, tokens.user(other), samples.PDF, "c.pdf").json()
    ctx = c.app.state.runtime.extras["files"]
    handler = service.purge_handler(accounts_feed_handler(permissions, TenantPurge("files", messaging)),
                                    lambda: ctx)
    db = Database(settings.database_url("files"))
    with db.transaction() as s:
        handler(s, EventEnvelope(type=PURGE_REQUESTED, tenant_id=None, actor=SYSTEM, subject={"tenant_id": tenant}))
    with db.sessions() as s:
        for model in (StoredFile, TenantKey, TenantUsage):
            assert s.execute(select(model).where(model.tenant_id == tenant)).first() is None
        assert s.execute(select(TenantKey).where(TenantKey.tenant_id == other)).first() is not None
    db.dispose()
    assert not (Path(root) / "objects" / tenant_prefix(tenant)).exists()
    assert c.get(f"{BASE}/files/{kept['id']}/content", headers=bearer(tokens.user(other))).content == samples.PDF
