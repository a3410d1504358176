"""Uploads belong to a 事業所 of the accounts master (shared.jigyosho_directory): unknown → 404,
closed (廃止) → 409, both before a byte is stored; files of a closed 事業所 stay readable.

Issue #10: file ids are per tenant. `PUT /files/{id}` with an id another tenant uses is simply a new
file (201), never a 409 telling the caller the id exists; neither tenant reaches the other's file;
reuse inside one tenant is still 409 (files are immutable). The migration keeps existing rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from sqlalchemy import Table, insert, select

from services.files.models import StoredFile
from shared.db import make_engine
from shared.migrations import upgrade
from tests.conftest import bearer
from tests.files import samples
from tests.files.support import tenant as new_tenant
from tests.files.test_api import BASE, assert_problem, files, post, put  # noqa: F401 - the files fixture

ROOT = Path(__file__).resolve().parents[2]
FILES = cast(Table, StoredFile.__table__)


def _nothing_stored(c, token: str) -> None:
    assert c.get(f"{BASE}/files", headers=bearer(token)).json()["items"] == []
    assert c.get(f"{BASE}/usage", headers=bearer(token)).json()["files_count"] == 0


def test_unknown_jigyosho_is_404_before_anything_is_stored(files, tokens):  # noqa: F811
    c, root = files()
    token = tokens.user(new_tenant())
    for send in (put, post):
        body = assert_problem(send(c, token, samples.PDF, "a.pdf", jig="J-UNKNOWN"), 404, "not-found")
        assert body["title"] == "指定されたリソースが見つかりません" and body["jigyosho_id"] == "J-UNKNOWN"
        assert "事業所" in body["detail"]
    _nothing_stored(c, token)
    assert not [p for p in root.rglob("*") if p.is_file() and "objects" in p.parts]


def test_closed_jigyosho_takes_no_upload_and_its_files_stay_readable(files, tokens, jigyosho):  # noqa: F811
    c, _ = files()
    tid = new_tenant()
    token = tokens.user(tid)
    kept = put(c, token, samples.PDF, "賃金台帳.pdf", jig="J-A").json()
    jigyosho.close(tid, "J-A", closed_on="2026-03-31", services=("files",))
    for send in (put, post):
        body = assert_problem(send(c, token, samples.PNG, "b.png", jig="J-A"), 409, "jigyosho-closed")
        assert body["title"] == "廃止された事業所です" and body["closed_on"] == "2026-03-31"
    assert c.get(f"{BASE}/files/{kept['id']}/content", headers=bearer(token)).content == samples.PDF
    assert [f["id"] for f in c.get(f"{BASE}/files", headers=bearer(token)).json()["items"]] == [kept["id"]]
    assert put(c, token, samples.PNG, "b.png", jig="J-B").status_code == 201  # another 事業所: fine


def test_the_same_id_in_another_tenant_is_another_file(files, tokens):  # noqa: F811
    c, _ = files()
    a, b = tokens.user(new_tenant()), tokens.user(new_tenant())
    fid = str(uuid.uuid4())
    mine = put(c, a, samples.PDF, "a.pdf", file_id=fid)
    assert mine.status_code == 201, mine.text
    theirs = put(c, b, samples.PNG, "b.png", file_id=fid)  # was 409 "file-exists": it told B the id exists
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] == fid and theirs.json()["tenant_id"] != mine.json()["tenant_id"]
    # Each tenant reaches its own file only, by every route.
    assert c.get(f"{BASE}/files/{fid}/content", headers=bearer(a)).content == samples.PDF
    assert c.get(f"{BASE}/files/{fid}/content", headers=bearer(b)).content == samples.PNG
    assert c.get(f"{BASE}/files/{fid}", headers=bearer(b)).json()["original_name"] == "b.png"
    assert [f["original_name"] for f in c.get(f"{BASE}/files", headers=bearer(a)).json()["items"]] == ["a.pdf"]
    link = c.post(f"{BASE}/files/{fid}/download-link", headers=bearer(b)).json()["url"]
    assert c.get(link).content == samples.PNG
    # Reuse inside a tenant is still refused: files are immutable.
    for token in (a, b):
        assert_problem(put(c, token, samples.GIF, "c.gif", file_id=fid), 409, "file-exists")
    # Deleting B's file leaves A's.
    assert c.delete(f"{BASE}/files/{fid}", headers=bearer(b)).status_code == 204
    assert c.get(f"{BASE}/files/{fid}/content", headers=bearer(a)).content == samples.PDF
    assert_problem(c.get(f"{BASE}/files/{fid}/content", headers=bearer(b)), 410, "file-gone")


def test_migration_0005_keeps_existing_rows_and_allows_one_id_per_tenant(test_dbs):
    url = test_dbs.create(f"{test_dbs.prefix}_files_ids_{uuid.uuid4().hex[:6]}")
    migrations = ROOT / "services" / "files" / "migrations"
    upgrade(migrations, url, "0004")
    engine = make_engine(url)
    fid, a, b = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    row = {"id": fid, "tenant_id": a, "original_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 3,
           "sha256": "0" * 64, "status": "registered", "created_at": datetime.now(UTC), "version": 1}
    try:
        with engine.begin() as conn:
            conn.execute(insert(FILES).values(**row))
        upgrade(migrations, url)
        with engine.begin() as conn:
            kept = conn.execute(select(FILES).where(FILES.c.id == fid)).mappings().all()
            assert [(r["tenant_id"], r["original_name"]) for r in kept] == [(a, "a.pdf")]
            conn.execute(insert(FILES).values(**{**row, "tenant_id": b, "original_name": "b.pdf"}))
            owners = conn.execute(select(FILES.c.tenant_id).where(FILES.c.id == fid)).scalars().all()
            assert sorted(owners) == sorted([a, b])
    finally:
        engine.dispose()
