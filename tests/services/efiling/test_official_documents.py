"""The files service's internal route for 公文書 (services/files/official.py): service tokens of
efiling only; members .xml/.xsl/.pdf/.csv and one inner ZIP, each checked against its content; the
path, bomb and magic-byte rules of user uploads still apply; idempotent by file id."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest

from tests.conftest import bearer

URL = "/api/v1/files/internal/official-documents"
XML = b'<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet type="text/xsl" href="a.xsl"?><DOC/>'
XSL = b'\xef\xbb\xbf<?xml version="1.0"?><xsl:stylesheet version="1.0"/>'


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def files(service_client):
    return service_client("files")


def put(c, token: str, data: bytes, file_id: str | None = None, name: str = "1234567890123456_2.zip"):
    return c.put(f"{URL}/{file_id or uuid.uuid4()}", content=data,
                 params={"jigyosho_id": "js-1", "filing_id": str(uuid.uuid4())},
                 headers={**bearer(token), "Content-Type": "application/zip",
                          "Content-Disposition": f"attachment; filename=\"{name}\""})


def test_only_efilings_service_token_may_store(files, tokens):
    t = str(uuid.uuid4())
    good = zip_of({"comment_doc1.xml": XML, "comment_doc.xsl": XSL})
    for token in (tokens.user(t), tokens.service("koyo_hoken", "files", t), tokens.service("efiling", "files")):
        r = put(files, token, good)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert files.put(f"{URL}/{uuid.uuid4()}", content=good).status_code == 401
    assert put(files, tokens.service("efiling", "files", t), good).status_code == 201


def test_official_members_accepted_and_stored_once(files, tokens):
    t = str(uuid.uuid4())
    svc = tokens.service("efiling", "files", t)
    inner = zip_of({"AD0001.xml": XML, "AS0001.xsl": XSL})
    doc = zip_of({"comment_doc1.xml": XML, "comment_doc.xsl": XSL, "doc.pdf": b"%PDF-1.7\n%...",
                  "data.csv": "氏名,番号\r\n山田,1\r\n".encode("shift_jis"), "inner.zip": inner})
    fid = str(uuid.uuid4())
    r = put(files, svc, doc, fid)
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["id"] == fid and stored["status"] == "available" and stored["content_type"] == "application/zip"
    # the same bytes again (a retry): the stored file, not a second one
    r = put(files, svc, doc, fid)
    assert r.status_code == 200 and r.json()["id"] == fid and r.json()["version"] == stored["version"]
    # other bytes under the same id
    r = put(files, svc, zip_of({"comment_doc1.xml": XML}), fid)
    assert r.status_code == 409 and r.json()["type"].endswith("/file-exists")
    # staff download it through the normal route
    staff = bearer(tokens.user(t))
    r = files.get(f"/api/v1/files/files/{fid}/content", headers=staff)
    assert r.status_code == 200 and r.content == doc


@pytest.mark.parametrize(("members", "reason", "member"), [
    ({"../x.xml": XML}, "path", "../x.xml"),
    ({"/etc/doc.xml": XML}, "path", "/etc/doc.xml"),
    ({"doc.xml": XML, "run.exe": b"MZ\x90\x00"}, "member-type", "run.exe"),
    ({"doc.xml": b"MZ\x90\x00\x03\x00\x00\x00 not markup"}, "member-content", "doc.xml"),
    ({"doc.pdf": b"<html>not a pdf</html>"}, "member-content", "doc.pdf"),
    ({"inner.zip": zip_of({"in.zip": zip_of({"a.xml": XML})})}, "nested", "inner.zip/in.zip"),
    ({"inner.zip": zip_of({"../../evil.xml": XML})}, "path", "inner.zip/../../evil.xml"),
])
def test_refused_members(files, tokens, members, reason, member):
    svc = tokens.service("efiling", "files", str(uuid.uuid4()))
    r = put(files, svc, zip_of(members))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"].endswith("/zip-refused") and body["reason"] == reason and body["member"] == member


def test_bomb_and_magic_rules_still_apply(files, tokens):
    svc = tokens.service("efiling", "files", str(uuid.uuid4()))
    # a highly compressible member far beyond the ratio limit
    bomb = zip_of({"doc.xml": b"<" + b"a" * (20 * 1024 * 1024)})
    r = put(files, svc, bomb)
    assert r.status_code == 422 and r.json()["reason"] == "ratio"
    # not a ZIP at all, whatever its name says
    r = put(files, svc, b"%PDF-1.7 pretending to be a zip")
    assert r.status_code == 415 and r.json()["type"].endswith("/file-content-mismatch")
    r = put(files, svc, zip_of({"doc.xml": XML}), name="doc.xml")
    assert r.status_code == 415
