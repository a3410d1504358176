"""Handing a procedure to e-filing discloses the person's My Number to e-Gov: it needs the unmasked
view of My Number like reading the number does (issue 18, item 1), and the filing names the person
so e-filing can record a package download that shows the number as a view of it. The CSV export of
insured persons is in the operation log (issue 18, reads and bulk exports)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from services.efiling.app import create_app as create_efiling_app
from services.efiling.models import Filing
from services.efiling.settings import EfilingSettings
from shared.db import Database
from tests.conftest import bearer
from tests.gateway.support import ServerThread
from tests.koyo_hoken.support import BASE, MY_NUMBER, person, tenant
from tests.koyo_hoken.test_efiling_reordered import ready_procedure
from tests.services.support import assert_matches_contract, outbox_payloads

APPLICANT = {"applicant": {"氏名": "社労士 花子", "法人団体名": "花子社会保険労務士事務所"}}


@pytest.fixture(scope="module")
def efiling_url(settings) -> Iterator[str]:
    """efiling as a real HTTP server, where koyo_hoken's hand-off creates the filing."""
    app = create_efiling_app(settings=settings, background=False,
                             efiling_settings=EfilingSettings(worker_enabled=False))
    server = ServerThread(app, http="httptools", loop="asyncio").start()
    yield server.url
    server.stop()


def filing_of(settings, filing_id: str) -> Filing:
    db = Database(settings.database_url("efiling"))
    try:
        with db.sessions() as session:
            return session.execute(select(Filing).where(Filing.id == filing_id)).scalar_one()
    finally:
        db.dispose()


def test_handing_a_procedure_with_a_my_number_on_needs_the_unmask_grant(service_client, tokens, grants, settings,
                                                                       efiling_url, monkeypatch):
    monkeypatch.setenv("ROUMU_EFILING_URL", efiling_url)
    c, tid, h, pr = ready_procedure(service_client, tokens)  # h: 雇用保険 and 電子申請 write, no unmasked view

    r = c.post(f"{BASE}/procedures/{pr['id']}/efiling", headers=h, json=APPLICANT)
    assert r.status_code == 403, r.text
    assert r.json()["menu"] == "my_number_unmasked" and MY_NUMBER not in r.text
    assert c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()["filing_id"] is None
    events = outbox_payloads(settings, "koyo_hoken", pr["insured_person_id"])
    assert "roumu.koyo_hoken.my_number.viewed" not in [e["type"] for e in events]

    grants.seed(tid, "u-unmask", {"koyo_hoken": "write", "efiling": "write", "my_number_unmasked": "read"})
    r = c.post(f"{BASE}/procedures/{pr['id']}/efiling", headers=bearer(tokens.user(tid, "u-unmask")), json=APPLICANT)
    assert r.status_code == 200, r.text
    filing = filing_of(settings, r.json()["filing_id"])
    assert filing.insured_person_id == pr["insured_person_id"] and filing.source == "koyo_hoken"
    views = [e for e in outbox_payloads(settings, "koyo_hoken", pr["insured_person_id"])
             if e["type"] == "roumu.koyo_hoken.my_number.viewed"]
    assert [(v["actor"]["id"], v["data"]["purpose"]) for v in views] == [("u-unmask", "form_data")]


def test_a_procedure_without_a_my_number_is_handed_on_without_the_grant(service_client, tokens, efiling_url,
                                                                         monkeypatch):
    monkeypatch.setenv("ROUMU_EFILING_URL", efiling_url)
    c, _, h, pr = ready_procedure(service_client, tokens, my_number=None)
    r = c.post(f"{BASE}/procedures/{pr['id']}/efiling", headers=h, json=APPLICANT)
    assert r.status_code == 200, r.text


def test_the_csv_export_is_recorded_without_its_rows(service_client, tokens, settings):
    c = service_client("koyo_hoken")
    tid = tenant()
    h = bearer(tokens.user(tid))
    for j in ("js-1", "js-1", "js-2"):
        assert c.post(f"{BASE}/insured-persons", headers=h, json=person(j, my_number=MY_NUMBER if j == "js-2" else None)
                      ).status_code == 201
    assert c.get(f"{BASE}/insured-persons/export.csv", headers=h).status_code == 200
    assert c.get(f"{BASE}/insured-persons/export.csv", headers=h, params={"jigyosho_id": "js-2"}).status_code == 200
    exports = [e for e in outbox_payloads(settings, "koyo_hoken", tid)
               if e["type"] == "roumu.koyo_hoken.insured_persons.exported"]
    assert [(e["actor"]["id"], e["data"]["rows"], e["data"]["jigyosho_ids"], e["subject"].get("jigyosho_id"))
            for e in exports] == [("u-1", 3, ["js-1", "js-2"], None), ("u-1", 1, ["js-2"], "js-2")]
    for e in exports:
        assert_matches_contract(e)
        assert "山田" not in str(e) and MY_NUMBER not in str(e)
