"""After a restore, before any service takes traffic: every tenant in the tombstones
(shared/tombstones.py) is purged again from every restored database and the restored file store,
and the accounts database gets back the record its deletion certificate is issued from.

Why re-purge rather than refuse the restore: a refusal would leave every other tenant without
service after a disaster, for as long as someone takes to pick a backup newer than the last
deletion (there may be none). The purge is the same code the services run at contract end
(shared.purge, each service's own variant), so re-running it is idempotent: a tenant whose data
is not in the backup loses nothing more, one that the backup brought back is deleted again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from services.accounts.events import PURGING_SERVICES
from services.files.storage import LocalStore, tenant_prefix
from shared.db import Database
from shared.purge import TenantPurge
from shared.tombstones import Ledger


def purger(service: str) -> TenantPurge:
    """The purge the service itself runs on roumu.accounts.tenant.purge_requested."""
    import importlib

    messaging = importlib.import_module(f"services.{service}.models").messaging
    if service == "accounts":
        from services.accounts.models import PURGE_KEEP

        return TenantPurge(service, messaging, PURGE_KEEP)
    if service == "jimukumiai":
        from services.jimukumiai.retention import PermittedTenantPurge

        return PermittedTenantPurge(service, messaging)
    return TenantPurge(service, messaging)


def repurge(database_urls: dict[str, str], ledger: Ledger, file_store: Path | None) -> dict[str, dict[str, int]]:
    """Answers tenant_id → service → rows deleted again (0 everywhere: the backup did not hold it)."""
    tombstones = ledger.tenants()
    out: dict[str, dict[str, int]] = {tid: {} for tid in tombstones}
    if not tombstones:
        return out
    for service in PURGING_SERVICES:
        url = database_urls.get(service)
        if url is None:
            continue
        p = purger(service)
        db = Database(url)
        try:
            for tid, record in tombstones.items():
                with db.transaction() as session:
                    n = sum(p.purge(session, tid).values())
                    if service == "accounts":
                        n += _reinstate(session, record)
                out[tid][service] = n
        finally:
            db.dispose()
    if file_store is not None and file_store.is_dir():
        store = LocalStore(file_store)
        for tid in tombstones:
            out[tid]["files (objects)"] = store.delete_prefix(tenant_prefix(tid))
    return out


def _reinstate(session: Any, record: dict[str, Any]) -> int:
    """The contract-end row and the purge confirmations as the tombstone has them (the restored
    ones may predate them, or not exist), the tenant and its users disabled or, once the accounts
    step ran, deleted. Answers the account rows deleted."""
    from services.accounts.models import ContractTermination, PurgeConfirmation, Tenant, User, permissions

    tid = record["tenant_id"]
    fields = dict(record.get("termination") or {})
    deleted = 0
    if fields:
        term = session.get(ContractTermination, tid) or ContractTermination(tenant_id=tid)
        for col in ContractTermination.__table__.columns:
            if col.name in fields:
                setattr(term, col.name, _typed(col, fields[col.name]))
        session.add(term)
    for c in record.get("confirmations") or []:
        if session.get(PurgeConfirmation, (tid, c["service"])) is None:
            session.add(PurgeConfirmation(tenant_id=tid, service=c["service"], counts=c["counts"],
                                          purged_at=_dt(c["purged_at"]), received_at=_dt(c["received_at"])))
    if record.get("status") == "accounts_deleted":
        deleted += permissions.forget_tenant(session, tid)
        deleted += int(session.execute(delete(User).where(User.tenant_id == tid)).rowcount or 0)
        deleted += int(session.execute(delete(Tenant).where(Tenant.id == tid)).rowcount or 0)
    else:
        tenant = session.get(Tenant, tid)
        if tenant is not None:
            tenant.status = "purged" if record.get("status") == "purged" else "disabled"
        for user in session.execute(select(User).where(User.tenant_id == tid, User.status == "active")).scalars():
            user.status = "disabled"
            user.permissions_version += 1
    session.flush()
    return deleted


def _dt(v: Any) -> datetime | None:
    if v is None:
        return None
    d = datetime.fromisoformat(str(v))
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _typed(col: Any, v: Any) -> Any:
    if v is None:
        return None
    kind = type(col.type).__name__
    if kind == "Date":
        return date.fromisoformat(str(v))
    if "DateTime" in kind:
        return _dt(v)
    return v
