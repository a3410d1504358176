"""The 事業所 master read model (shared.jigyosho_directory) in koyo_hoken, jimukumiai and files:
events applied in order and idempotently (an older, re-delivered event never overwrites a newer
one), the tenant purge removes the rows, and — end to end through accounts and NATS — a 事業所
created, renamed and closed in accounts is known, renamed and refused in the three services."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest

from services.jimukumiai.retention import PermittedTenantPurge
from shared.db import Database
from shared.events import SYSTEM, EventEnvelope
from shared.jigyosho_directory import JIGYOSHO_CLOSED, JIGYOSHO_CREATED, JIGYOSHO_UPDATED
from shared.purge import PURGE_REQUESTED, TenantPurge
from shared.service_app import accounts_feed_handler
from tests.accounts.conftest import BASE, add_jigyosho, jigyosho_body, open_tenant
from tests.conftest import bearer
from tests.files import samples
from tests.support.jigyosho import DIRECTORY_SERVICES, jigyosho_event, wait_for_jigyosho

T0 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


def feed(service: str):
    """The service's accounts-feed handler, built as its app builds it (grants, 事業所, purge)."""
    models = importlib.import_module(f"services.{service}.models")
    purge = (PermittedTenantPurge(service, models.messaging) if service == "jimukumiai"
             else TenantPurge(service, models.messaging))
    handler = accounts_feed_handler(models.permissions, purge, models.jigyosho_directory)
    assert handler is not None
    return handler, models.jigyosho_directory


@pytest.mark.parametrize("service", DIRECTORY_SERVICES)
def test_events_apply_in_order_idempotently_and_the_purge_removes_them(service, settings):
    handler, directory = feed(service)
    db = Database(settings.database_url(service))
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())

    def apply(event: EventEnvelope) -> None:
        with db.transaction() as s:
            handler(s, event)

    def entry(tid: str = tenant, jid: str = "J-1"):
        with db.sessions() as s:
            return directory.get(s, tid, jid)

    try:
        created = jigyosho_event(JIGYOSHO_CREATED, tenant, "J-1", occurred_at=T0, name="株式会社山田製作所",
                                 labour_insurance_number="13101912340001")
        apply(created)
        apply(jigyosho_event(JIGYOSHO_CREATED, other, "J-1", occurred_at=T0, name="他テナントの事業所"))
        e = entry()
        assert (e.name, e.status, e.labour_insurance_number, e.koyo_jigyo_kubun) == (
            "株式会社山田製作所", "active", "13101912340001", "ippan")
        assert e.employment_insurance_office_number == "1301-123456-7" and e.is_open

        # An update renames; the same event again changes nothing.
        renamed = jigyosho_event(JIGYOSHO_UPDATED, tenant, "J-1", occurred_at=T0 + timedelta(minutes=5),
                                 name="株式会社ヤマダ", koyo_jigyo_kubun="kensetsu")
        apply(renamed)
        apply(renamed)
        assert (entry().name, entry().koyo_jigyo_kubun) == ("株式会社ヤマダ", "kensetsu")

        # Re-delivered older events (the creation, an earlier update) never overwrite the newer one.
        apply(created)
        apply(jigyosho_event(JIGYOSHO_UPDATED, tenant, "J-1", occurred_at=T0 + timedelta(minutes=1), name="旧名称"))
        assert entry().name == "株式会社ヤマダ"

        # Closed (廃止); an update of the same instant ranks below the closing, an older one too.
        at = T0 + timedelta(minutes=9)
        apply(jigyosho_event(JIGYOSHO_CLOSED, tenant, "J-1", occurred_at=at, name="株式会社ヤマダ",
                             closed_on="2026-03-31"))
        apply(jigyosho_event(JIGYOSHO_UPDATED, tenant, "J-1", occurred_at=at, name="株式会社ヤマダ"))
        apply(renamed)
        e = entry()
        assert (e.status, e.closed_on, e.is_open) == ("closed", date(2026, 3, 31), False)
        assert entry(other).name == "他テナントの事業所"  # another tenant's 事業所 of the same id is its own

        # Other accounts events are ignored by the read model.
        apply(EventEnvelope(type="roumu.accounts.tenant.updated", tenant_id=tenant, actor=SYSTEM,
                            subject={"tenant_id": tenant}, data={}))
        assert entry().status == "closed"

        # The tenant purge (the same feed) deletes the tenant's rows, and only those.
        apply(EventEnvelope(type=PURGE_REQUESTED, tenant_id=None, actor=SYSTEM, subject={"tenant_id": tenant}))
        assert entry() is None
        assert entry(other) is not None
    finally:
        db.dispose()


def _person(jigyosho_id: str) -> dict[str, str]:
    return {"jigyosho_id": jigyosho_id, "family_name": "山田", "given_name": "太郎", "family_name_kana": "ヤマダ",
            "given_name_kana": "タロウ", "birth_date": "1990-04-01", "hire_date": "2026-04-01", "weekly_hours": "40"}


def _member(jigyosho_id: str) -> dict[str, object]:
    return {"jigyosho_id": jigyosho_id, "name": "株式会社山田製作所",
            "labour_insurance_number": f"13101{uuid.uuid4().int % 1_000_000:06d}000", "entrusted_from": "2026-04-01",
            "regular_workers": 12, "main_business": "other", "rousai_code": "94", "koyo_kubun": "ippan"}


def _upload(files, token: str, jigyosho_id: str):
    return files.put(f"/api/v1/files/files/{uuid.uuid4()}", params={"jigyosho_id": jigyosho_id},
                     content=samples.PDF,
                     headers={**bearer(token), "Content-Type": "application/octet-stream",
                              "Content-Disposition": f"attachment; filename*=UTF-8''{quote('届.pdf')}"})


def test_created_renamed_and_closed_in_accounts_reaches_the_three_services(service_client, tokens, settings):
    accounts = service_client("accounts")
    koyo, jimu, files, shaho = (service_client(s) for s in ("koyo_hoken", "jimukumiai", "files", "shakai_hoken"))
    t = open_tenant(accounts, tokens)
    admin = bearer(t.admin_token)
    js = add_jigyosho(accounts, t, "株式会社山田製作所")

    # Created a moment ago: each service waits for its read model (a request never waits).
    wait_for_jigyosho(settings, t.id, js, name="株式会社山田製作所")
    person = koyo.post("/api/v1/koyo-hoken/insured-persons", headers=admin, json=_person(js))
    assert person.status_code == 201, person.text
    assert jimu.post("/api/v1/jimukumiai/members", headers=admin, json=_member(js)).status_code == 201
    assert _upload(files, t.admin_token, js).status_code == 201

    # Renamed in accounts: the read models follow.
    etag = accounts.get(f"{BASE}/jigyosho/{js}", headers=admin).headers["etag"]
    r = accounts.put(f"{BASE}/jigyosho/{js}", headers={**admin, "If-Match": etag},
                     json=jigyosho_body("株式会社ヤマダ製作所"))
    assert r.status_code == 200, r.text
    wait_for_jigyosho(settings, t.id, js, name="株式会社ヤマダ製作所")

    # Closed in accounts: new hires, members and uploads are refused; what exists stays readable.
    etag = accounts.get(f"{BASE}/jigyosho/{js}", headers=admin).headers["etag"]
    r = accounts.post(f"{BASE}/jigyosho/{js}/close", headers={**admin, "If-Match": etag},
                      json={"closed_on": "2026-06-30"})
    assert r.status_code == 200, r.text
    wait_for_jigyosho(settings, t.id, js, status="closed")
    for refused in (koyo.post("/api/v1/koyo-hoken/insured-persons", headers=admin, json=_person(js)),
                    jimu.post("/api/v1/jimukumiai/members", headers=admin, json=_member(js)),
                    _upload(files, t.admin_token, js),
                    shaho.put(f"/api/v1/shakai-hoken/offices/{js}", headers=admin, json={
                        "seiri_kigo": "01-イロハ", "office_number": "12345", "insurer_kind": "kyokai",
                        "prefecture": "13"})):
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["type"].endswith("/jigyosho-closed") and body["title"] == "廃止された事業所です"
        assert body["closed_on"] == "2026-06-30" and "2026-06-30" in body["detail"]
    got = koyo.get(f"/api/v1/koyo-hoken/insured-persons/{person.json()['id']}", headers=admin)
    assert got.status_code == 200 and got.json()["jigyosho_id"] == js

    # Another tenant naming this 事業所 gets what an unknown id gets.
    other = open_tenant(accounts, tokens)
    r = koyo.post("/api/v1/koyo-hoken/insured-persons", headers=bearer(other.admin_token), json=_person(js))
    assert r.status_code == 404 and r.json()["title"] == "指定されたリソースが見つかりません"
