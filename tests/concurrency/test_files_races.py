"""Downloads racing a delete (issue 29 item 9): every download either gets the whole content with a
200 or a clear 410/404 — never a 200 that breaks off at 0 bytes — and a `file.downloaded` event is
recorded exactly for the downloads that were served. Two deletes of one file at once both answer
204 and count the file out of the usage once. Real parallel requests against the app (threads)."""

from __future__ import annotations

from typing import Any

from services.files.models import TenantUsage
from tests.concurrency.harness import covers, fire
from tests.conftest import bearer
from tests.files import samples
from tests.files.conftest import _known_jigyosho  # noqa: F401 - the files tests' 事業所, autouse
from tests.files.support import tenant as new_tenant
from tests.files.test_api import BASE, files, post  # noqa: F401 - fixture
from tests.services.conftest import grants, tokens  # noqa: F401 - tokens whose users hold grants
from tests.services.support import outbox_payloads
from tests.support.jigyosho import jigyosho  # noqa: F401 - the 事業所 master seeder

DOWNLOADERS = 6
ROUNDS = 10


def _fire(calls: list[Any]) -> list[Any]:
    """Each call's response, or the exception its client raised (a stream that broke off)."""
    return [o.response if o.response is not None else o.error for o in fire(len(calls), lambda i: calls[i]())]


@covers("DELETE /api/v1/files/files/{file_id}")
def test_downloads_racing_a_delete_are_whole_or_refused(files, tokens, settings):  # noqa: F811
    c, _ = files()
    tenant = new_tenant()
    h = bearer(tokens.user(tenant))
    data = samples.PDF * 400  # several stored segments
    served = refused = 0
    for _ in range(ROUNDS):
        f = post(c, tokens.user(tenant), data, "a.pdf")
        assert f.status_code == 201, f.text
        fid = f.json()["id"]
        results = _fire([lambda fid=fid: c.get(f"{BASE}/files/{fid}/content", headers=h)] * DOWNLOADERS
                        + [lambda fid=fid: c.delete(f"{BASE}/files/{fid}", headers=h)])
        downloads, deletion = results[:-1], results[-1]
        assert not isinstance(deletion, Exception) and deletion.status_code == 204, deletion
        for r in downloads:
            assert not isinstance(r, Exception), f"a download broke off: {r!r}"
            assert r.status_code in (200, 410), (r.status_code, r.text[:200])
            if r.status_code == 200:
                assert r.content == data, f"200 with {len(r.content)} of {len(data)} bytes"
        ok = sum(1 for r in downloads if r.status_code == 200)
        served, refused = served + ok, refused + len(downloads) - ok
        recorded = [e for e in outbox_payloads(settings, "files", fid) if e["type"] == "roumu.files.file.downloaded"]
        assert len(recorded) == ok
    assert served + refused == ROUNDS * DOWNLOADERS


@covers("DELETE /api/v1/files/files/{file_id}")
def test_concurrent_deletes_count_the_file_out_once(files, tokens, settings):  # noqa: F811
    c, _ = files()
    tenant = new_tenant()
    h = bearer(tokens.user(tenant))
    keep = post(c, tokens.user(tenant), samples.PDF, "keep.pdf")
    assert keep.status_code == 201
    for _ in range(ROUNDS):
        fid = post(c, tokens.user(tenant), samples.PDF, "a.pdf").json()["id"]
        answers = _fire([lambda fid=fid: c.delete(f"{BASE}/files/{fid}", headers=h)] * 5)
        assert [getattr(a, "status_code", a) for a in answers] == [204] * 5
        deleted = [e for e in outbox_payloads(settings, "files", fid) if e["type"] == "roumu.files.file.deleted"]
        assert len(deleted) == 1
    with c.app.state.runtime.db.sessions() as s:
        usage = s.get(TenantUsage, tenant)
    assert usage is not None and usage.files_count == 1 and usage.bytes_used == len(samples.PDF)
