"""A restore never brings a deleted tenant back (issue 24.5): a tenant with data in the services is
backed up, then purged the way contract end does it (accounts' steps, each service's own purge,
the confirmations); the backup is restored (the drill, --no-stack) and every restored database has
none of the tenant's rows, the file store none of its objects, and the accounts database the record
its deletion certificate is issued from, from the tombstones that no restore rolls back."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import MetaData, create_engine, func, select

from ops.backup import repurge
from ops.backup.drill import run_drill
from ops.backup.job import run_backup
from services.accounts import certificate
from services.accounts import events as accounts_events
from services.accounts import repository as accounts_repo
from services.accounts import service as accounts
from services.accounts.models import ContractTermination, PurgeConfirmation, Tenant, User
from services.files.storage import tenant_prefix
from shared.db import Database
from shared.events import SYSTEM, EventEnvelope
from shared.purge import purged_type
from shared.tombstones import Ledger, tombstone_path

pytestmark = pytest.mark.slow


# Kept by design: the contract-end row and the confirmations, the record of the deletion.
RECORD_TABLES = frozenset({"contract_terminations", "purge_confirmations"})


def tenant_rows(url: str, tenant_id: str) -> dict[str, int]:
    """Rows naming the tenant in every table with a tenant_id column (and accounts' tenants.id),
    the deletion's own record left out."""
    engine = create_engine(url)
    try:
        md = MetaData()
        md.reflect(engine)
        out: dict[str, int] = {}
        with engine.connect() as conn:
            for t in md.sorted_tables:
                col = t.c.get("tenant_id") if "tenant_id" in t.c else (t.c.id if t.name == "tenants" else None)
                if col is None or t.name in RECORD_TABLES:
                    continue
                n = conn.execute(select(func.count()).select_from(t).where(col == tenant_id)).scalar_one()
                if n:
                    out[t.name] = int(n)
        return out
    finally:
        engine.dispose()


def plant_grants(inst, tenant_id: str) -> None:
    """The tenant's rows in every service: the permissions read model the accounts feed writes
    everywhere (what the services would hold once the tenant's users' events reached them)."""
    import importlib

    db = Database(inst.common.database_url("accounts"))
    try:
        with db.transaction() as s:
            snapshots = [(u.id, accounts_events.user_permissions_changed(u, SYSTEM).data)
                         for u in s.execute(select(User).where(User.tenant_id == tenant_id)).scalars()]
    finally:
        db.dispose()
    for service in accounts_events.PURGING_SERVICES:
        if service in ("accounts", "auth"):
            continue
        sdb = Database(inst.common.database_url(service))
        try:
            with sdb.transaction() as s:
                perms = importlib.import_module(f"services.{service}.models").permissions
                for user_id, data in snapshots:
                    perms.apply_snapshot(s, tenant_id, user_id, data)
        finally:
            sdb.dispose()


def purge_live(inst, tenant_id: str, ledger: Ledger) -> None:
    """Contract end as it runs live: disable, request the purge (tombstone), every service purges
    its rows (files its objects too) and confirms, accounts collects, then deletes the accounts."""
    db = Database(inst.common.database_url("accounts"))
    now = datetime.now(UTC)
    try:
        with db.transaction() as s:
            tenant = s.get(Tenant, tenant_id)
            tenant.contract_end = date(2020, 1, 31)
            accounts._schedule_termination(s, tenant)
        assert [j["step"] for j in accounts.run_due_jobs(db.transaction, now, timedelta(0), ledger)] \
            == ["accounts_disabled"]
        assert [j["step"] for j in accounts.run_due_jobs(db.transaction, now, timedelta(0), ledger)] \
            == ["purge_requested"]
        with db.transaction() as s:
            request = accounts_events.tenant_purge_requested(s.get(ContractTermination, tenant_id))
        for service in accounts_events.PURGING_SERVICES:
            sdb = Database(inst.common.database_url(service))
            try:
                with sdb.transaction() as s:
                    counts = repurge.purger(service).purge(s, tenant_id)
            finally:
                sdb.dispose()
            confirmed = EventEnvelope(type=purged_type(service), tenant_id=None, actor=SYSTEM,
                                      subject=dict(request.subject),
                                      data={"counts": [{"table": k, "rows": v} for k, v in sorted(counts.items())],
                                            "purged_at": datetime.now(UTC).isoformat()})
            with db.transaction() as s:
                accounts.on_tenant_purged(s, confirmed, ledger)
        repurge.LocalStore(inst.var / "files").delete_prefix(tenant_prefix(tenant_id))
        assert [j["step"] for j in accounts.run_due_jobs(db.transaction, now, timedelta(0), ledger)] \
            == ["accounts_deleted"]
    finally:
        db.dispose()


def test_a_restore_purges_again_a_tenant_deleted_after_the_backup(installation, tmp_path):
    inst = installation
    db = Database(inst.common.database_url("accounts"))
    try:
        with db.transaction() as s:
            tenant_id = accounts_repo.tenant_by_code(s, "demo").id
    finally:
        db.dispose()
    plant_grants(inst, tenant_id)
    obj = inst.var / "files" / "objects" / tenant_prefix(tenant_id) / "file-of-the-tenant"
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(b"tenant data in the file store")
    before = {s: tenant_rows(u, tenant_id) for s, u in inst.urls().items()}
    held = {s: rows for s, rows in before.items() if rows}
    assert set(held) == set(accounts_events.PURGING_SERVICES), held

    r = run_backup(inst.common, inst.backup, keys=inst.keys, publish=False)
    assert r.ok, r.error
    ledger = Ledger(tombstone_path(inst.common))
    purge_live(inst, tenant_id, ledger)
    live = {s: tenant_rows(u, tenant_id) for s, u in inst.urls().items()}
    assert not any(live.values()) and not obj.exists(), live
    assert ledger.tenants()[tenant_id]["status"] == "accounts_deleted"

    report = run_drill(inst.common, inst.backup, inst.monitor, keys=inst.keys, out=io.StringIO(),
                       start_stack=False, keep=True, scratch_dir=tmp_path, alert=False)
    assert report.ok, report.problems
    assert report.restored_counts["accounts"]["users"] >= 3, "the backup holds the tenant"
    brought_back = report.repurged[tenant_id]
    assert all(brought_back[s] > 0 for s in held), brought_back
    assert brought_back["files (objects)"] == 1
    after = {s: tenant_rows(u, tenant_id) for s, u in report.database_urls.items()}
    assert not any(after.values()), f"the restore brought the tenant back: {after}"
    assert report.scratch is not None
    assert not (report.scratch / "var" / "files" / "objects" / tenant_prefix(tenant_id)).exists()

    restored = Database(report.database_urls["accounts"])
    try:
        with restored.transaction() as s:
            term = s.get(ContractTermination, tenant_id)
            assert term is not None and term.status == "accounts_deleted"
            confirmations = list(s.execute(select(PurgeConfirmation)
                                           .where(PurgeConfirmation.tenant_id == tenant_id)).scalars())
            doc = certificate.build(term, confirmations, datetime.now(UTC))
            users = select(func.count()).select_from(User).where(User.tenant_id == tenant_id)
            assert s.execute(users).scalar_one() == 0
    finally:
        restored.dispose()
    assert [x["service"] for x in doc["services"]] == list(accounts_events.PURGING_SERVICES)
    assert doc["tenant"]["code"] == "demo" and doc["account_information"] is not None
    assert tombstone_path(inst.common).exists(), "the tombstones outlive the restore"


def test_without_tombstones_the_drill_purges_nothing(installation, tmp_path):
    inst = installation
    r = run_backup(inst.common, inst.backup, keys=inst.keys, publish=False)
    assert r.ok, r.error
    report = run_drill(inst.common, inst.backup, inst.monitor, keys=inst.keys, out=io.StringIO(),
                       start_stack=False, scratch_dir=tmp_path, alert=False)
    assert report.ok and report.repurged == {}
