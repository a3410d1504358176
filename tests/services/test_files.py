"""files skeleton: register metadata, read, tenant isolation, validation errors, name sanitising."""

import hashlib
import uuid

import pytest

from services.files.rules.names import sanitise_file_name
from tests.conftest import bearer
from tests.services.support import assert_matches_contract, outbox_payloads

BASE = "/api/v1/files"
SHA = hashlib.sha256(b"pdf").hexdigest()


def meta(**over):
    body = {"original_name": "資格取得届.pdf", "content_type": "application/pdf", "size_bytes": 1234, "sha256": SHA}
    return {**body, **over}


def test_register_then_get_and_event(service_client, tokens, settings):
    c = service_client("files")
    tenant = str(uuid.uuid4())
    r = c.post(f"{BASE}/files/metadata", headers=bearer(tokens.user(tenant)),
               json=meta(original_name="C:\\Users\\sato\\山田太郎_住民票.pdf", content_type="Application/PDF",
                         sha256=SHA.upper()))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["original_name"] == "山田太郎_住民票.pdf"
    assert created["content_type"] == "application/pdf" and created["sha256"] == SHA
    assert created["status"] == "registered" and created["version"] == 1

    r = c.get(f"{BASE}/files/{created['id']}", headers=bearer(tokens.user(tenant)))
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    assert r.json() == created

    [event] = outbox_payloads(settings, "files", created["id"])
    assert event["type"] == "roumu.files.file.registered"
    assert "山田" not in str(event)
    assert_matches_contract(event)


def test_other_tenant_gets_404(service_client, tokens):
    c = service_client("files")
    r = c.post(f"{BASE}/files/metadata", headers=bearer(tokens.user(str(uuid.uuid4()))), json=meta())
    r = c.get(f"{BASE}/files/{r.json()['id']}", headers=bearer(tokens.user(str(uuid.uuid4()))))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_validation_error_is_problem_json_with_fields(service_client, tokens):
    c = service_client("files")
    headers = bearer(tokens.user(str(uuid.uuid4())))
    r = c.post(f"{BASE}/files/metadata", headers=headers,
               json=meta(original_name="../..", size_bytes=100 * 1024 * 1024 + 1, sha256="abc",
                         content_type="pdf"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["title"] == "入力内容に誤りがあります"
    assert {e["field"] for e in body["errors"]} == {
        "body.original_name", "body.size_bytes", "body.sha256", "body.content_type"}


@pytest.mark.parametrize(("raw", "clean"), [
    ("report.pdf", "report.pdf"),
    ("/etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("請求書\u202efdp.exe", "請求書fdp.exe"),  # a right-to-left override would show it as ...exe.pdf
    ("a\x00b\tc.txt", "abc.txt"),
    ("  .hidden  ", "hidden"),
    ('what?<>:"|*.txt', "what_______.txt"),
    ("カ\u3099.pdf", "ガ.pdf"),  # decomposed kana is stored composed (NFC)
])
def test_sanitise_file_name(raw, clean):
    assert sanitise_file_name(raw) == clean


@pytest.mark.parametrize("raw", ["", "..", "dir/", "\u202e", "a" * 256])
def test_sanitise_file_name_refuses_what_is_left_unusable(raw):
    with pytest.raises(ValueError):
        sanitise_file_name(raw)
