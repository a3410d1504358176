"""The S3-compatible store against a real S3 server over HTTP: moto's server as its own process on
127.0.0.1 (tests/files/s3server.py), signatures checked by moto with botocore. Sealed
multi-segment objects up and down (streamed), DELETE, ListObjectsV2 paging as the tenant purge
uses it, refusals with the store's own error code, and the files service end to end with
ROUMU_FILES_STORAGE=s3 selected by its settings."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.files import keys, service
from services.files.models import StoredFile, messaging, permissions
from services.files.segments import SEGMENT, SealingWriter, new_file_key, unseal_stream
from services.files.settings import FilesSettings
from services.files.storage import S3Error, S3Store, object_key, tenant_prefix
from shared.db import Database
from shared.events import SYSTEM, EventEnvelope
from shared.purge import PURGE_REQUESTED, TenantPurge
from shared.service_app import accounts_feed_handler
from tests.conftest import bearer
from tests.files import samples
from tests.files.s3server import MotoServer
from tests.files.support import tenant as new_tenant
from tests.files.test_api import BASE, put


def sealed_file(tmp: Path, plain: bytes, tenant: str, file_id: str) -> tuple[Path, bytes]:
    key = new_file_key()
    path = tmp / f"{file_id}.sealed"
    with path.open("wb") as out:
        w = SealingWriter(out, key, keys.content_aad(tenant, file_id))
        w.write(plain)
        w.close()
    return path, key


def small(tmp: Path) -> Path:
    p = tmp / f"{uuid.uuid4()}.sealed"
    p.write_bytes(b"sealed bytes")
    return p


def recording(store: S3Store) -> list[dict[str, str]]:
    """The query of every listing request the store sends."""
    seen: list[dict[str, str]] = []
    send = store._request

    def spy(method: str, key: str | None, **kw: Any):
        if key is None:
            seen.append(dict(kw.get("query") or {}))
        return send(method, key, **kw)

    store._request = spy  # type: ignore[method-assign]
    return seen


def test_multi_segment_sealed_object_up_and_down_streamed(moto_s3: MotoServer, tmp_path):
    store = moto_s3.store()
    tenant, file_id = str(uuid.uuid4()), str(uuid.uuid4())
    plain = os.urandom(2 * SEGMENT + 12_345)  # three segments, the last one short
    path, fkey = sealed_file(tmp_path, plain, tenant, file_id)
    sealed = path.read_bytes()
    key = object_key(tenant, file_id)

    store.put(key, path)
    assert not path.exists()  # the sealed temporary file is gone once the object is in place

    chunks = list(store.chunks(key))
    assert len(chunks) > 1 and b"".join(chunks) == sealed  # streamed, bytes unchanged
    opened = unseal_stream(iter(chunks), fkey, len(sealed), keys.content_aad(tenant, file_id))
    assert hashlib.sha256(b"".join(opened)).digest() == hashlib.sha256(plain).digest()
    assert list(store.list_keys(tenant_prefix(tenant))) == [key]

    store.delete(key)
    with pytest.raises(S3Error) as gone:
        list(store.chunks(key))
    assert gone.value.status == 404 and gone.value.code == "NoSuchKey"
    store.delete(key)  # already gone: no error
    assert list(store.list_keys(tenant_prefix(tenant))) == []


def test_listing_pages_with_continuation_tokens_and_purge_deletes_every_page(moto_s3: MotoServer, tmp_path):
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    filler = moto_s3.store()
    mine = sorted(object_key(tenant, str(uuid.uuid4())) for _ in range(7))
    theirs = [object_key(other, str(uuid.uuid4())) for _ in range(2)]
    for key in mine + theirs:
        filler.put(key, small(tmp_path))

    store = moto_s3.store(list_page_size=3)
    queries = recording(store)
    assert sorted(store.list_keys(tenant_prefix(tenant))) == mine
    assert [q.get("continuation-token") is not None for q in queries] == [False, True, True]  # 3 + 3 + 1
    assert all(q["max-keys"] == "3" and q["prefix"] == f"files/{tenant_prefix(tenant)}/" for q in queries)

    queries.clear()
    assert store.delete_prefix(tenant_prefix(tenant)) == 7  # deleting while paging loses nothing
    assert len(queries) == 3
    assert list(store.list_keys(tenant_prefix(tenant))) == []
    assert sorted(store.list_keys(tenant_prefix(other))) == sorted(theirs)  # another tenant untouched
    assert store.delete_prefix(tenant_prefix(tenant)) == 0


def test_an_operator_prefix_with_space_plus_and_unicode_is_signed_as_sent(moto_s3: MotoServer, tmp_path):
    """The prefix travels in the path (PUT/GET/DELETE) and in the listing's query, where a space
    written as '+' would be read back as a plus: the query is sent exactly as it was signed."""
    store = moto_s3.store(prefix="office 1+2/事務所=a&b/", list_page_size=1)
    tenant = str(uuid.uuid4())
    made = sorted(object_key(tenant, str(uuid.uuid4())) for _ in range(2))
    for key in made:
        store.put(key, small(tmp_path))
    assert b"".join(store.chunks(made[0])) == b"sealed bytes"
    assert sorted(store.list_keys(tenant_prefix(tenant))) == made
    assert list(moto_s3.store().list_keys(tenant_prefix(tenant))) == []  # not under the default prefix
    assert store.delete_prefix(tenant_prefix(tenant)) == 2


@pytest.mark.parametrize(("wrong", "code"), [({"secret_key": "not-the-secret"}, "SignatureDoesNotMatch"),
                                             ({"access_key": "AKIANOSUCHKEY0000000"}, "InvalidAccessKeyId")])
def test_wrong_credentials_answer_the_stores_error_code(moto_s3: MotoServer, tmp_path, wrong, code):
    tenant = str(uuid.uuid4())
    key = object_key(tenant, str(uuid.uuid4()))
    moto_s3.store().put(key, small(tmp_path))
    bad = moto_s3.store(**wrong)

    sealed = small(tmp_path)
    calls = [lambda: bad.put(key, sealed), lambda: list(bad.chunks(key)), lambda: bad.delete(key),
             lambda: bad.delete_prefix(tenant_prefix(tenant))]
    for call in calls:
        with pytest.raises(S3Error) as refused:
            call()
        assert refused.value.status == 403 and refused.value.code == code
        assert code in str(refused.value) and "not-the-secret" not in str(refused.value)
    assert sealed.exists()  # a refused upload keeps its sealed temporary file for the caller to remove
    assert b"".join(moto_s3.store().chunks(key)) == b"sealed bytes"  # nothing was deleted


def test_a_missing_bucket_is_named(moto_s3: MotoServer, tmp_path):
    store = S3Store(moto_s3.endpoint, "no-such-bucket", moto_s3.access_key, moto_s3.secret_key)
    with pytest.raises(S3Error) as refused:
        store.put(object_key(str(uuid.uuid4()), str(uuid.uuid4())), small(tmp_path))
    assert refused.value.status == 404 and refused.value.code == "NoSuchBucket"


def test_files_service_with_the_s3_store_selected_by_settings(moto_s3: MotoServer, service_client, tokens,
                                                              settings, tmp_path):
    fs = FilesSettings(storage="s3", storage_dir=tmp_path / "local-unused", tmp_dir=tmp_path / "tmp",
                       s3_endpoint=moto_s3.endpoint, s3_bucket=moto_s3.bucket, s3_access_key_id=moto_s3.access_key,
                       s3_secret_access_key=moto_s3.secret_key, s3_prefix="svc/")
    c = service_client("files", files_settings=fs)
    ctx = c.app.state.runtime.extras["files"]
    assert isinstance(ctx.store, S3Store)
    tenant, other = new_tenant(), new_tenant()
    token = tokens.user(tenant)
    big = samples.PDF + os.urandom(2 * SEGMENT + 777)  # several segments

    f = put(c, token, big, "賃金台帳.pdf").json()
    assert f["status"] == "available" and f["size_bytes"] == len(big)
    [stored] = list(ctx.store.list_keys(tenant_prefix(tenant)))
    assert stored == object_key(tenant, f["id"])
    at_rest = b"".join(ctx.store.chunks(stored))
    assert big[:4096] not in at_rest and len(at_rest) > len(big)  # sealed, not the plaintext
    assert not [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()]  # nothing left in flight

    d = c.get(f"{BASE}/files/{f['id']}/content", headers=bearer(token))
    assert d.status_code == 200 and d.content == big

    assert c.delete(f"{BASE}/files/{f['id']}", headers=bearer(token)).status_code in (200, 204)
    assert list(ctx.store.list_keys(tenant_prefix(tenant))) == []

    for name in ("a.pdf", "b.png"):
        assert put(c, token, samples.PDF if name.endswith("pdf") else samples.PNG, name).status_code == 201
    kept = put(c, tokens.user(other), samples.PDF, "c.pdf").json()
    handler = service.purge_handler(accounts_feed_handler(permissions, TenantPurge("files", messaging)),
                                    lambda: ctx)
    db = Database(settings.database_url("files"))
    with db.transaction() as s:
        handler(s, EventEnvelope(type=PURGE_REQUESTED, tenant_id=None, actor=SYSTEM, subject={"tenant_id": tenant}))
    with db.sessions() as s:
        assert s.execute(select(StoredFile).where(StoredFile.tenant_id == tenant)).first() is None
    db.dispose()
    assert list(ctx.store.list_keys(tenant_prefix(tenant))) == []
    assert c.get(f"{BASE}/files/{kept['id']}/content", headers=bearer(tokens.user(other))).content == samples.PDF
