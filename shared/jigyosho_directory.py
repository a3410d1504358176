"""The 事業所 master as the other services know it: a read model of accounts' events.

accounts owns the 事業所 (client employers) and publishes `roumu.accounts.jigyosho.created`,
`.updated` and `.closed`, each with the whole current business facts. A service that refers to
事業所 (koyo_hoken's insured persons, jimukumiai's members, files' uploads) keeps them in
`jigyosho_directory`, attached to its own metadata like the permission read model, fed by the same
ordered "accounts-feed" consumer (`create_service_app(..., jigyosho_directory=...)`), so grants,
事業所 and the tenant purge apply in the order accounts published them. The tenant purge deletes
the rows with the rest of the tenant's data (the table has `tenant_id`).

Order: an event is applied only when it is newer than the row — by the envelope's `occurred_at`,
then created < updated < closed for events of the same instant — so a redelivered older event never
overwrites a newer one, and applying the same event twice changes nothing.

Write use cases check `require_open` (new insured persons, 届出, members, uploads):

* a 事業所 this service has not seen for the tenant → 404 `not-found`, the same title as an id of
  another tenant, with a detail saying the 事業所 is not (yet) known. That includes one created a
  moment ago whose event is still on its way: a request never waits for the feed (the answer would
  depend on the feed's lag, and a slow feed would hold request threads); the client retries, and
  tests wait for the read model like they do for grants;
* a closed (廃止) 事業所 → 409 `jigyosho-closed`; what was recorded before stays readable.

`require_known` is the same without the closed check (a 資格喪失届 is still due after a 廃止)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, delete, select, update
from sqlalchemy.orm import Session

from shared.db import UtcDateTime
from shared.errors import ProblemError
from shared.events import EventEnvelope

JIGYOSHO_CREATED = "roumu.accounts.jigyosho.created"
JIGYOSHO_UPDATED = "roumu.accounts.jigyosho.updated"
JIGYOSHO_CLOSED = "roumu.accounts.jigyosho.closed"
# Events of one instant are ordered by their kind: a 事業所 is created, then updated, then closed.
EVENT_RANK: dict[str, int] = {JIGYOSHO_CREATED: 0, JIGYOSHO_UPDATED: 1, JIGYOSHO_CLOSED: 2}

ACTIVE = "active"
CLOSED = "closed"
TABLE = "jigyosho_directory"


@dataclass(frozen=True)
class JigyoshoEntry:
    """One 事業所 as the read model holds it (business facts as accounts published them)."""

    tenant_id: str
    jigyosho_id: str
    name: str
    labour_insurance_number: str | None  # 労働保険番号, 14 digits
    employment_insurance_office_number: str | None  # 雇用保険適用事業所番号, 4-6-1
    koyo_jigyo_kubun: str | None  # 雇用保険の事業区分: ippan | norin_shuzo | kensetsu
    status: str  # active | closed
    closed_on: date | None
    occurred_at: datetime
    event_rank: int

    @property
    def is_open(self) -> bool:
        return self.status != CLOSED


def unknown_jigyosho(jigyosho_id: str) -> ProblemError:
    """404 like an id of another tenant (same type and title), saying the 事業所 is not (yet) known."""
    return ProblemError(
        404, "not-found", "指定されたリソースが見つかりません",
        "指定された事業所が見つかりません。事業所を登録した直後の場合は、反映まで数秒待ってから再度お試しください",
        extra={"jigyosho_id": jigyosho_id})


def closed_jigyosho(entry: JigyoshoEntry) -> ProblemError:
    on = entry.closed_on.isoformat() if entry.closed_on else None
    when = f"{on} に" if on else ""
    return ProblemError(
        409, "jigyosho-closed", "廃止された事業所です",
        f"この事業所は{when}廃止されています。新しい登録・届出・アップロードはできません（登録済みのデータは参照できます）",
        extra={"jigyosho_id": entry.jigyosho_id, "closed_on": on})


def jigyosho_directory_table(metadata: MetaData) -> Table:
    return Table(
        TABLE,
        metadata,
        Column("tenant_id", String(36), primary_key=True),
        Column("jigyosho_id", String(36), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("labour_insurance_number", String(14), nullable=True),
        Column("employment_insurance_office_number", String(13), nullable=True),
        Column("koyo_jigyo_kubun", String(30), nullable=True),
        Column("status", String(20), nullable=False),
        Column("closed_on", Date, nullable=True),
        # The newest event applied: its occurred_at, then its kind (EVENT_RANK).
        Column("occurred_at", UtcDateTime, nullable=False),
        Column("event_rank", Integer, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
    )


def create_jigyosho_directory_table() -> None:
    """For a service's migration that adopts the read model."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("labour_insurance_number", sa.String(14), nullable=True),
        sa.Column("employment_insurance_office_number", sa.String(13), nullable=True),
        sa.Column("koyo_jigyo_kubun", sa.String(30), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_rank", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "jigyosho_id", name=f"pk_{TABLE}"),
    )


def drop_jigyosho_directory_table() -> None:
    from alembic import op

    op.drop_table(TABLE)


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class JigyoshoDirectory:
    """The 事業所 read model of one service's metadata, the handler that feeds it and the checks."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = jigyosho_directory_table(metadata)

    def get(self, session: Session, tenant_id: str, jigyosho_id: str) -> JigyoshoEntry | None:
        row = session.execute(select(self.table).where(
            self.table.c.tenant_id == tenant_id, self.table.c.jigyosho_id == jigyosho_id)).mappings().first()
        if row is None:
            return None
        return JigyoshoEntry(**{k: row[k] for k in JigyoshoEntry.__dataclass_fields__})

    def require_known(self, session: Session, tenant_id: str, jigyosho_id: str) -> JigyoshoEntry:
        entry = self.get(session, tenant_id, jigyosho_id)
        if entry is None:
            raise unknown_jigyosho(jigyosho_id)
        return entry

    def require_open(self, session: Session, tenant_id: str, jigyosho_id: str) -> JigyoshoEntry:
        """The 事業所 when this tenant has it and it is not closed: 404 unknown, 409 closed."""
        entry = self.require_known(session, tenant_id, jigyosho_id)
        if not entry.is_open:
            raise closed_jigyosho(entry)
        return entry

    def apply(self, session: Session, tenant_id: str, jigyosho_id: str, event_type: str, occurred_at: datetime,
              data: Mapping[str, Any]) -> bool:
        """Store one jigyosho event unless the row holds a newer or the same one. True when applied."""
        rank = EVENT_RANK[event_type]
        at = occurred_at if occurred_at.tzinfo is not None else occurred_at.replace(tzinfo=UTC)
        status = CLOSED if event_type == JIGYOSHO_CLOSED else str(data.get("status") or ACTIVE)
        values = {
            "name": str(data.get("name") or "")[:200],
            "labour_insurance_number": data.get("labour_insurance_number"),
            "employment_insurance_office_number": data.get("employment_insurance_office_number"),
            "koyo_jigyo_kubun": data.get("koyo_jigyo_kubun"),
            "status": status, "closed_on": _date(data.get("closed_on")),
            "occurred_at": at, "event_rank": rank, "updated_at": datetime.now(UTC),
        }
        current = self.get(session, tenant_id, jigyosho_id)
        if current is None:
            session.execute(self.table.insert().values(tenant_id=tenant_id, jigyosho_id=jigyosho_id, **values))
            return True
        if (current.occurred_at, current.event_rank) >= (at, rank):
            return False
        session.execute(update(self.table).where(self.table.c.tenant_id == tenant_id,
                                                 self.table.c.jigyosho_id == jigyosho_id).values(**values))
        return True

    def forget_tenant(self, session: Session, tenant_id: str) -> int:
        result = session.execute(delete(self.table).where(self.table.c.tenant_id == tenant_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def handle(self, session: Session, event: EventEnvelope) -> None:
        """Consumer of roumu.accounts.jigyosho.> (other accounts events are ignored)."""
        if event.type not in EVENT_RANK:
            return
        tenant_id = event.subject.get("tenant_id") or event.tenant_id
        jigyosho_id = event.subject.get("jigyosho_id")
        if not tenant_id or not jigyosho_id:
            return
        self.apply(session, tenant_id, jigyosho_id, event.type, event.occurred_at, event.data)
