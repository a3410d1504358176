"""End of contract, end to end: the schedule in 行政機関 business days (Golden Week here), accounts
disabled, every service purging the tenant on roumu.accounts.tenant.purge_requested and confirming,
account information deleted after the end month; then a scan of every table of every service
database finds no row of the tenant; the signed deletion certificate verifies with the published
key and fails after any byte is changed."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import MetaData, select

from ops import tenant_export
from services.accounts import exports
from services.accounts.certificate import verify
from services.accounts.settings import AccountsSettings
from shared.clock import JST, FrozenClock
from shared.db import make_engine
from shared.tombstones import Ledger, tombstone_path
from shared.topology import SERVICES
from tests.accounts.conftest import BASE, add_jigyosho, add_user, open_tenant, wait_for
from tests.conftest import bearer
from tests.support.jigyosho import wait_for_jigyosho

ROOT = Path(__file__).resolve().parents[1]
LIFECYCLE = ("roumu.accounts.tenant.purge_requested", "roumu.accounts.tenant.deleted")
# Kept on purpose: the record the deletion certificate is issued from (docs/accounts.md).
RETAINED_TABLES = {("accounts", "contract_terminations"), ("accounts", "purge_confirmations")}


def is_lifecycle(event_type: str | None) -> bool:
    return bool(event_type) and (event_type in LIFECYCLE or event_type.endswith(".tenant.purged"))


def service_dbs() -> list[str]:
    return [s.name for s in SERVICES if (ROOT / "services" / s.name / "migrations").is_dir()]


def rows_mentioning(settings, needle: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every row of every table of every service database whose values mention `needle`
    (tenant_id columns, ids in JSON payloads, anything), minus the documented exemptions."""
    found = []
    for service in service_dbs():
        engine = make_engine(settings.database_url(service))
        try:
            meta = MetaData()
            meta.reflect(engine)
            with engine.connect() as conn:
                for table in meta.sorted_tables:
                    if table.name == "alembic_version" or (service, table.name) in RETAINED_TABLES:
                        continue
                    for row in conn.execute(select(table)).mappings():
                        values = dict(row)
                        if needle not in json.dumps(values, default=str, ensure_ascii=False):
                            continue
                        payload = values.get("payload")
                        if isinstance(payload, str):
                            payload = json.loads(payload)
                        # The system's own record of the deletion: no tenant in the envelope.
                        if table.name == "outbox" and payload.get("tenant_id") is None and is_lifecycle(
                                payload.get("type")):
                            continue
                        if table.name == "audit_entries" and values["tenant_id"] is None and is_lifecycle(
                                values["type"]):
                            continue
                        found.append((service, table.name, values))
        finally:
            engine.dispose()
    return found


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=JST)


def run_jobs(client, tokens):
    r = client.post(f"{BASE}/operations/contract-jobs/run", headers=bearer(tokens.operator()))
    assert r.status_code == 200, r.text
    return [j["step"] for j in r.json()["ran"]]


def termination(client, tokens, tid):
    r = client.get(f"{BASE}/tenants/{tid}/termination", headers=bearer(tokens.operator()))
    assert r.status_code == 200, r.text
    return r.json()


def test_contract_end_purges_every_service_and_certifies(service_client, tokens, settings, tmp_path):
    clock = FrozenClock(at(2026, 4, 20, 9))
    accounts = service_client("accounts", clock=clock,
                              accounts_settings=AccountsSettings(scheduler_interval_seconds=3600))
    clients = {name: service_client(name) for name in
               ("auth", "koyo_hoken", "jimukumiai", "efiling", "files", "audit_log", "webhooks", "shakai_hoken")}

    t = open_tenant(accounts, tokens, contract_end="2026-05-01")  # a Friday before Golden Week
    keep = open_tenant(accounts, tokens)  # another tenant: its data stays
    for tenant in (t, keep):
        js = add_jigyosho(accounts, tenant)
        wait_for_jigyosho(settings, tenant.id, js)  # koyo_hoken, jimukumiai and files learn it from accounts
        _, staff = add_user(accounts, tenant, tokens, "staff-1", {"koyo_hoken": "write", "jimukumiai": "write",
                                                                     "efiling": "write", "files": "write",
                                                                     "shakai_hoken": "write"})
        person = {"jigyosho_id": js, "family_name": "山田", "given_name": "太郎", "family_name_kana": "ヤマダ",
                  "given_name_kana": "タロウ", "birth_date": "1990-04-01", "hire_date": "2026-04-01",
                  "weekly_hours": "40"}
        hired: list[dict[str, str]] = []

        def hire(s: str = staff, p: dict[str, str] = person, hired: list[dict[str, str]] = hired) -> bool:
            r = clients["koyo_hoken"].post("/api/v1/koyo-hoken/insured-persons", headers=bearer(s), json=p)
            hired.extend([r.json()] if r.status_code == 201 else [])
            return r.status_code == 201

        wait_for(hire)
        assert clients["shakai_hoken"].put(f"/api/v1/shakai-hoken/offices/{js}", headers=bearer(tenant.admin_token),
                                           json={"seiri_kigo": "01-イロハ", "office_number": "12345",
                                                 "insurer_kind": "kyokai", "prefecture": "13"}).status_code == 201
        enrol = {"insured_person_id": hired[0]["id"], "birth_date": "1990-04-01", "acquired_on": "2026-04-01",
                 "remuneration": 300_000}
        # koyo_hoken's person event reaches shakai_hoken's read model through NATS.
        wait_for(lambda e=enrol, tenant=tenant: clients["shakai_hoken"].post(
            "/api/v1/shakai-hoken/enrolments", headers=bearer(tenant.admin_token), json=e).status_code == 201)
        assert clients["jimukumiai"].post("/api/v1/jimukumiai/members", headers=bearer(tenant.admin_token), json={
            "jigyosho_id": js, "name": "株式会社山田製作所", "labour_insurance_number": "13101912340001",
            "entrusted_from": "2026-04-01", "regular_workers": 12, "main_business": "other",
            "koyo_kubun": "ippan"}).status_code == 201
        assert clients["efiling"].post("/api/v1/efiling/filings", headers=bearer(tenant.admin_token), json={
            "jigyosho_id": js, "procedure_code": "950A010002012000", "title": "資格取得届"}).status_code == 201
        assert clients["files"].post("/api/v1/files/files/metadata", headers=bearer(tenant.admin_token), json={
            "original_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1,
            "sha256": "0" * 64}).status_code == 201
        assert clients["webhooks"].post("/api/v1/webhooks/endpoints", headers=bearer(tenant.admin_token), json={
            "url": "https://partner.example/hook", "event_types": ["procedure.completed"]}).status_code == 201
        etag = accounts.get(f"{BASE}/tenants/{tenant.id}/settings", headers=bearer(tenant.admin_token)).headers["etag"]
        assert accounts.put(f"{BASE}/tenants/{tenant.id}/settings", headers={**bearer(tenant.admin_token),
                            "If-Match": etag}, json={"totp_required": True,
                                                     "ip_allowlist": ["2001:db8::/32"]}).status_code == 200
    assert accounts.post(f"{BASE}/notices", headers=bearer(tokens.operator()), json={
        "kind": "information", "title": "契約終了のご案内", "body": "…", "tenant_id": t.id,
        "visible_until": at(2026, 6, 30).isoformat()}).status_code == 201

    # Every service got the tenant's data and its events, auth its replicas.
    def audit_count(tid):
        r = clients["audit_log"].get("/api/v1/audit-log/entries", params={"limit": 500},
                                     headers=bearer(tokens.service("tests", "audit_log", tid)))
        return len(r.json()["items"])
    wait_for(lambda: audit_count(t.id) >= 12)
    wait_for(lambda: any(s == "auth" for s, _, _ in rows_mentioning(settings, t.id)))
    assert {s for s, _, _ in rows_mentioning(settings, t.id)} >= {
        "auth", "accounts", "koyo_hoken", "jimukumiai", "efiling", "files", "audit_log", "webhooks", "shakai_hoken"}

    # The schedule: Golden Week 2026 (5/2–5/6) pushes both first steps to 5/7; June 1 is a Monday.
    term = termination(accounts, tokens, t.id)
    assert (term["accounts_disabled_on"], term["data_deleted_on"], term["accounts_deleted_on"]) == (
        "2026-05-07", "2026-05-07", "2026-06-01")
    assert term["status"] == "scheduled" and term["export_available"]

    # The return before deletion (返却, docs/tenant-export.md): exported and stored while the data is there.
    export_dir = tmp_path / "export"
    tenant_export.sign_and_store(accounts, tokens.operator(), t.id, export_dir,
                                 tenant_export.collect({**clients, "accounts": accounts}, tokens.operator(), t.id,
                                                       export_dir))
    archives = exports.exports_dir(settings.var_dir, t.id)
    assert len(list(archives.glob("*.tar"))) == 1

    clock.set(at(2026, 5, 6, 23, 59))
    assert run_jobs(accounts, tokens) == []
    clock.set(at(2026, 5, 7, 0, 0))
    assert run_jobs(accounts, tokens) == ["accounts_disabled"]
    assert run_jobs(accounts, tokens) == []  # the purge waits for the disabling to settle
    # Disabled users are refused everywhere within seconds; auth replicated the disabling.
    wait_for(lambda: clients["koyo_hoken"].get("/api/v1/koyo-hoken/insured-persons",
                                               headers=bearer(t.admin_token)).status_code == 403, timeout=5)
    assert accounts.get(f"{BASE}/tenants/{t.id}", headers=bearer(tokens.operator())).json()["status"] == "disabled"
    wait_for(lambda: all(v["status"] == "disabled" for s, tbl, v in rows_mentioning(settings, t.id)
                         if (s, tbl) == ("auth", "credentials")))

    clock.advance(timedelta(hours=1))
    assert run_jobs(accounts, tokens) == ["purge_requested"]
    done = wait_for(lambda: (x := termination(accounts, tokens, t.id))["status"] == "purged" and x, timeout=30)
    assert done["pending_services"] == [] and len(done["confirmed_services"]) == 9
    # The export went with the data: archive removed, record purged, no new export.
    assert not archives.exists() and done["exports"] == [] and not done["export_available"]
    r = accounts.post(f"{BASE}/tenants/{t.id}/exports", headers=bearer(tokens.operator()),
                      json={"manifest": {"files": []}})
    assert r.status_code == 409 and r.json()["type"].endswith("/data-deleted")

    # Operational data is gone; account information (accounts' users and tenant) waits for June.
    left = {(s, tbl) for s, tbl, _ in rows_mentioning(settings, t.id)}
    assert left == {("accounts", "users"), ("accounts", "tenants"), ("accounts", "permission_grants")}, left
    clock.set(at(2026, 5, 31, 23, 59))
    assert run_jobs(accounts, tokens) == []
    clock.set(at(2026, 6, 1, 0, 0))
    assert run_jobs(accounts, tokens) == ["accounts_deleted"]

    # The scan: not one row of the tenant in any table of any service database.
    assert rows_mentioning(settings, t.id) == []
    # The tombstone a restore re-purges from (shared/tombstones.py), outside every database.
    stone = Ledger(tombstone_path(settings)).tenants()[t.id]
    assert stone["status"] == "accounts_deleted" and len(stone["confirmations"]) == 9
    assert stone["termination"]["tenant_code"] == t.code
    # ...while the other tenant's rows are all there.
    assert {s for s, _, _ in rows_mentioning(settings, keep.id)} >= {
        "auth", "accounts", "koyo_hoken", "jimukumiai", "efiling", "files", "audit_log", "webhooks", "shakai_hoken"}

    # The deletion certificate.
    r = accounts.get(f"{BASE}/tenants/{t.id}/deletion-certificate", headers=bearer(tokens.operator()))
    assert r.status_code == 200, r.text
    signed = r.json()
    doc = json.loads(signed["certificate"])
    assert doc["tenant"] == {"id": t.id, "code": t.code, "name": "テスト社会保険労務士事務所"}
    services = {s["service"]: s for s in doc["services"]}
    assert set(services) == {"auth", "accounts", "koyo_hoken", "jimukumiai", "efiling", "audit_log", "files",
                             "webhooks", "shakai_hoken"}
    assert services["shakai_hoken"]["deleted"]["enrolments"] == 1
    assert services["shakai_hoken"]["deleted"]["standard_remunerations"] == 1
    assert services["shakai_hoken"]["deleted"]["shaho_offices"] == 1
    assert services["shakai_hoken"]["deleted"]["person_refs"] == 1
    assert services["webhooks"]["deleted"]["webhook_endpoints"] == 1
    assert services["koyo_hoken"]["deleted"]["insured_persons"] == 1
    assert services["jimukumiai"]["deleted"]["members"] == 1
    assert services["efiling"]["deleted"]["filings"] == 1
    assert services["files"]["deleted"]["files"] == 1
    assert services["accounts"]["deleted"]["jigyosho"] == 1 and services["accounts"]["deleted"]["notices"] == 1
    assert services["auth"]["deleted"]["credentials"] == 2
    assert services["audit_log"]["deleted"]["audit_entries"] >= 12
    assert doc["account_information"]["deleted"] == {"permission_grants": 2, "tenants": 1, "users": 2}
    assert all(s["purged_at"] for s in doc["services"])

    jwks = accounts.get(f"{BASE}/certificate-keys").json()
    [jwk] = [k for k in jwks["keys"] if k["kid"] == signed["key_id"]]
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4)))
    raw = signed["certificate"].encode("utf-8")
    assert verify(raw, signed["signature"], key)
    for i in range(len(raw)):  # any byte changed: the signature no longer holds
        tampered = bytearray(raw)
        tampered[i] ^= 0x01
        assert not verify(bytes(tampered), signed["signature"], key), i
    sig = bytearray(signed["signature"].encode())
    sig[5] = ord("A") if sig[5] != ord("A") else ord("B")
    assert not verify(raw, sig.decode(), key)

    text = accounts.get(f"{BASE}/tenants/{t.id}/deletion-certificate.txt", headers=bearer(tokens.operator()))
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "データ削除証明書" in text.text and "insured_persons: 1 件" in text.text
    assert accounts.get(f"{BASE}/tenants/{t.id}/deletion-certificate",
                        headers=bearer(t.admin_token)).status_code == 403
    other = accounts.get(f"{BASE}/tenants/{uuid.uuid4()}/deletion-certificate", headers=bearer(tokens.operator()))
    assert other.status_code == 404
