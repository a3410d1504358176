"""The end of a contract, in every service: delete every row of a tenant and say so.

accounts publishes `roumu.accounts.tenant.purge_requested` (subject {tenant_id}) on the day the
operational data must go. Every service holding tenant data runs `TenantPurge.handle` on it (the
service app registers it, `shared.service_app.create_service_app`) and, in the same transaction,
publishes `roumu.<service>.tenant.purged` with the rows deleted per table; accounts collects those
for the deletion certificate.

What is deleted, generically from the service's own metadata:
* every row whose `tenant_id` column is the tenant, in every table that has one (children first);
* rows of tables without `tenant_id` that point at those rows by a `<name>_id` column, where
  `<name>` is the singular of a purged table's name and that table's primary key is `id`, or
  where the column (`user_id`, `session_id`, ...) also appears in a purged table — one hop, e.g.
  auth's password history (by user_id) and refresh tokens (by session_id);
* published outbox rows whose envelope names the tenant (the relay is done with them).

Lifecycle events themselves (purge_requested, purged) carry `tenant_id: null` in the envelope:
they are the system's record of the deletion, not the tenant's data."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, MetaData, Table, delete, select
from sqlalchemy.orm import Session

from shared.events import SYSTEM, EventEnvelope
from shared.outbox import Messaging

PURGE_REQUESTED = "roumu.accounts.tenant.purge_requested"
_CHUNK = 500


def purged_type(service: str) -> str:
    return f"roumu.{service}.tenant.purged"


def tenant_tables(metadata: MetaData, keep: Collection[str] = ()) -> list[Table]:
    """Tables holding a tenant_id column, children before parents."""
    return [t for t in reversed(metadata.sorted_tables) if "tenant_id" in t.c and t.name not in keep]


def holds_tenant_data(metadata: MetaData) -> bool:
    return bool(tenant_tables(metadata))


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else name


class TenantPurge:
    def __init__(self, service: str, messaging: Messaging, keep: Collection[str] = ()) -> None:
        self.service = service
        self.messaging = messaging
        self.metadata: MetaData = messaging.outbox.metadata
        self.keep = frozenset(keep)

    def purge(self, session: Session, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's rows; answer the count per table (tables with none included)."""
        counts: dict[str, int] = {}
        owners = tenant_tables(self.metadata, self.keep)
        infra = {self.messaging.outbox.name, self.messaging.inbox.name}
        # Ids the tenant's rows are known by, under the column name other tables use for them.
        ids: dict[str, set[Any]] = {}
        for t in owners:
            pk = [c.name for c in t.primary_key.columns]
            if pk == ["id"]:
                ids.setdefault(f"{_singular(t.name)}_id", set()).update(
                    session.execute(select(t.c.id).where(t.c.tenant_id == tenant_id)).scalars())
            for c in t.c:
                if c.name.endswith("_id") and c.name != "tenant_id":
                    ids.setdefault(c.name, set()).update(
                        v for v in session.execute(select(c).where(t.c.tenant_id == tenant_id)).scalars()
                        if v is not None)
        owner_names = {t.name for t in owners}
        for t in reversed(self.metadata.sorted_tables):
            if t.name in owner_names or t.name in infra or t.name in self.keep:
                continue
            linked = [t.c[name] for name in ids if name in t.c and ids[name]]
            if linked:
                counts[t.name] = sum(self._delete_in(session, t, col, ids[col.name]) for col in linked)
        for t in owners:
            result = session.execute(delete(t).where(t.c.tenant_id == tenant_id))
            counts[t.name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        counts[self.messaging.outbox.name] = self._purge_outbox(session, tenant_id)
        return counts

    @staticmethod
    def _delete_in(session: Session, table: Table, column: Column[Any], values: set[Any]) -> int:
        total = 0
        items = sorted(values, key=str)
        for i in range(0, len(items), _CHUNK):
            result = session.execute(delete(table).where(column.in_(items[i:i + _CHUNK])))
            total += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return total

    def _purge_outbox(self, session: Session, tenant_id: str) -> int:
        outbox = self.messaging.outbox
        doomed = []
        rows = session.execute(select(outbox.c.seq, outbox.c.payload)
                               .where(outbox.c.published_at.is_not(None))).all()
        for seq, payload in rows:
            if isinstance(payload, dict) and (payload.get("tenant_id") == tenant_id
                                              and not _is_lifecycle(str(payload.get("type", "")))):
                doomed.append(seq)
        for i in range(0, len(doomed), _CHUNK):
            session.execute(delete(outbox).where(outbox.c.seq.in_(doomed[i:i + _CHUNK])))
        return len(doomed)

    def handle(self, session: Session, event: EventEnvelope) -> None:
        """Consumer of roumu.accounts.tenant.purge_requested: purge, then confirm (one transaction)."""
        if event.type != PURGE_REQUESTED:
            return
        tenant_id = event.subject["tenant_id"]
        counts = self.purge(session, tenant_id)
        self.messaging.record(session, EventEnvelope(
            type=purged_type(self.service), tenant_id=None, actor=SYSTEM, subject={"tenant_id": tenant_id},
            # A list, not {table: n}: table names such as password_history or refresh_tokens would
            # trip the envelope's secret-name guard as keys.
            data={"counts": [{"table": k, "rows": v} for k, v in sorted(counts.items())],
                  "purged_at": datetime.now(UTC).isoformat()},
        ))


def _is_lifecycle(event_type: str) -> bool:
    return event_type == PURGE_REQUESTED or event_type.endswith(".tenant.purged")
