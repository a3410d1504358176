"""A My Number planted, filed to e-Gov, and found nowhere in clear (issue 18, item 1).

The whole path: koyo_hoken registers the number, a staff member holding the unmasked view hands the
procedure to e-filing (a real efiling HTTP server, the number crossing on the internal call), it is
sent to the e-Gov sandbox (a real HTTP server, which does receive it — the point of filing), and its
package is downloaded by that staff member and by one without the view. Then every cell of every
table of every tenant service's database is searched with its blobs unpacked (ZIP members, gzip,
base64, JSON: tests/security/common.py `deep_text`), and every log record: the number is in none."""

from __future__ import annotations

import base64
import io
import json
import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest

from services.efiling.app import create_app as create_efiling_app
from shared.logging import JsonFormatter
from shared.settings import CommonSettings
from tests.conftest import Tokens, bearer
from tests.gateway.support import ServerThread
from tests.security.common import FIGURES, all_tables_text, services_with_contract
from tests.security.test_secrets import my_number
from tests.security.world import close_clients, open_clients, person_body
from tests.services.efiling.support import efiling_settings
from tests.services.efiling.test_api import link
from tests.services.egov_support import SandboxServer, new_account
from tests.services.grants import ALL_WRITE, GrantSeeder
from tests.support.jigyosho import JigyoshoSeeder

APPLICANT = {"氏名": "社労士 花子", "法人団体名": "花子社会保険労務士事務所"}
# The stand-in for e-Gov holds what was filed, by design: it is the outside system.
SCANNED = [s for s in services_with_contract() if s != "egov_sandbox"]


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("security-scan"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def test_a_filed_my_number_is_nowhere_in_clear(settings: CommonSettings, tokens: Tokens, sec_grants: GrantSeeder,
                                              logs: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant, number = str(uuid.uuid4()), my_number(f"{uuid.uuid4().int % 10**11:011d}")
    seeder = JigyoshoSeeder(settings)
    seeder.open(tenant, "js-1", services=("koyo_hoken",))
    seeder.dispose()
    sec_grants.seed(tenant, "filer", {**ALL_WRITE, "my_number_unmasked": "read"})
    sec_grants.seed(tenant, "clerk", ALL_WRITE)
    filer, clerk = bearer(tokens.user(tenant, "filer")), bearer(tokens.user(tenant, "clerk"))
    sandbox = SandboxServer(settings).start()
    sandbox.reset()  # its database outlives the server: only this test's requests
    efiling: ServerThread | None = None
    try:
        app = create_efiling_app(settings=settings, background=False,
                                 efiling_settings=efiling_settings(sandbox, worker_enabled=False))
        efiling = ServerThread(app, http="httptools", loop="asyncio").start()
        with httpx.Client(base_url=efiling.url, timeout=30) as ef:
            monkeypatch.setenv("ROUMU_EFILING_URL", efiling.url)
            clients = open_clients(settings, ["koyo_hoken"])
            try:
                kh = clients["koyo_hoken"]
                base = "/api/v1/koyo-hoken"
                p = kh.post(f"{base}/insured-persons", headers=filer,
                            json=person_body("js-1", hire_date="2026-04-01", my_number=number))
                assert p.status_code == 201, p.text
                pr = kh.post(f"{base}/procedures", headers=filer, json={
                    "insured_person_id": p.json()["id"], "kind": "shikaku_shutoku", "event_date": "2026-04-01",
                    "details": {"jigyosho_number": "1301-123456-7", "cause": "2"}})
                assert pr.status_code == 201, pr.text
                pid = pr.json()["id"]
                etag = f'"{pr.json()["version"]}"'
                for step in ("check", "ready"):
                    moved = kh.post(f"{base}/procedures/{pid}/{step}", headers={**filer, "If-Match": etag})
                    assert moved.status_code == 200, moved.text
                    etag = moved.headers["etag"]
                # the clerk (no unmasked view) may not disclose it to e-Gov; the filer may
                refused = kh.post(f"{base}/procedures/{pid}/efiling", headers=clerk, json={"applicant": APPLICANT})
                assert refused.status_code == 403, refused.text
                link(ef, sandbox, filer, new_account())
                handed = kh.post(f"{base}/procedures/{pid}/efiling", headers=filer, json={"applicant": APPLICANT})
                assert handed.status_code == 200, handed.text
                fid = handed.json()["filing_id"]
            finally:
                close_clients(clients)

            etag = ef.get(f"/api/v1/efiling/filings/{fid}", headers=filer).headers["etag"]
            sent = ef.post(f"/api/v1/efiling/filings/{fid}/submit",
                           headers={**filer, "If-Match": etag, "Idempotency-Key": str(uuid.uuid4())})
            assert sent.status_code == 200 and sent.json()["filing"]["status"] == "arrived", sent.text
            [apply] = sandbox.requests(path="/shinsei/v2/apply", method="POST")
            filed = base64.b64decode(json.loads(apply["body"])["send_file"]["file_data"])
            assert number.encode() in _xml_of(filed), "the number was not filed (the test would prove nothing)"

            [pkg] = ef.get(f"/api/v1/efiling/filings/{fid}/history", headers=filer).json()["packages"]
            url = f"/api/v1/efiling/filings/{fid}/packages/{pkg['id']}"
            blanked = ef.get(url, headers=clerk)
            assert blanked.headers["x-roumu-my-number"] == "blanked" and number.encode() not in _xml_of(blanked.content)
            shown = ef.get(url, headers=filer)
            assert shown.headers["x-roumu-my-number"] == "shown" and shown.content == filed
    finally:
        if efiling is not None:
            efiling.stop()
        sandbox.stop()

    cells = [(f"{s}:{where}", text) for s in SCANNED for where, text in all_tables_text(settings, s)]
    FIGURES["my number filed: database cells scanned (blobs unpacked)"] += len(cells)
    found = [where for where, text in cells if number in text]
    assert not found, f"the filed My Number in clear in {found}"
    assert number not in logs.getvalue(), "the filed My Number in the logs"


def _xml_of(data: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return b"".join(zf.read(n) for n in zf.namelist() if n.endswith(".xml"))
