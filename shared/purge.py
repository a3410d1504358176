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

from sqlalchemy import MetaData, Select, Table, delete, or_, select
from sqlalchemy.orm import Session

from shared.events import SYSTEM, EventEnvelope
from shared.outbox import Messaging

PURGE_REQUESTED = "roumu.accounts.tenant.purge_requested"


def purged_type(service: str) -> str:
    return f"roumu.{service}.tenant.purged"


def tenant_tables(metadata: MetaData, keep: Collection[str] = ()) -> list[Table]:
    """Tables holding a tenant_id column, children before parents."""
    return [t for t in reversed(metadata.sorted_tables) if "tenant_id" in t.c and t.name not in keep]


def holds_tenant_data(metadata: MetaData) -> bool:
    return bool(tenant_tables(metadata))


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else name


def id_sources(owners: list[Table], tenant_id: str) -> dict[str, list[Select[Any]]]:
    """The ids the tenant's rows are known by, under the column name other tables use for them, as
    subqueries (a tenant's rows — audit_log's run to millions — are never loaded): the purge deletes
    and the tenant export reads the rows linked through them."""
    sources: dict[str, list[Select[Any]]] = {}
    for t in owners:
        mine = t.c.tenant_id == tenant_id
        if [c.name for c in t.primary_key.columns] == ["id"]:
            sources.setdefault(f"{_singular(t.name)}_id", []).append(select(t.c.id).where(mine))
        for c in t.c:
            if c.name.endswith("_id") and c.name != "tenant_id":
                sources.setdefault(c.name, []).append(select(c).where(mine, c.is_not(None)))
    return sources


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
        sources = id_sources(owners, tenant_id)
        owner_names = {t.name for t in owners}
        for t in reversed(self.metadata.sorted_tables):
            if t.name in owner_names or t.name in infra or t.name in self.keep:
                continue
            linked = [name for name in sources if name in t.c]
            if linked:
                # Before the owners' rows go: the subqueries read them.
                # One IN per source rather than a UNION of them, which PostgreSQL would refuse
                # for sources of different column types.
                counts[t.name] = sum(_rowcount(session.execute(delete(t).where(
                    or_(*(t.c[name].in_(src.scalar_subquery()) for src in sources[name]))))) for name in linked)
        for t in owners:
            counts[t.name] = _rowcount(session.execute(delete(t).where(t.c.tenant_id == tenant_id)))
        counts[self.messaging.outbox.name] = self._purge_outbox(session, tenant_id)
        return counts

    def _purge_outbox(self, session: Session, tenant_id: str) -> int:
        """Published outbox rows of the tenant's events (the envelope's tenant_id), found by the
        database rather than by reading every published row."""
        outbox = self.messaging.outbox
        return _rowcount(session.execute(delete(outbox).where(
            outbox.c.published_at.is_not(None), outbox.c.payload["tenant_id"].as_string() == tenant_id,
            outbox.c.subject != PURGE_REQUESTED, outbox.c.subject.not_like("%.tenant.purged"))))

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


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)
