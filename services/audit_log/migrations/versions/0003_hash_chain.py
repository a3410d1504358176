"""Hash chains per tenant and category, their heads, signed checkpoints and the target index.

Entries recorded before this revision are chained here, in the order they were recorded.

Revision ID: 0003
Revises: 0002
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from services.audit_log.rules import chain, retention
from shared.db import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("audit_entries", sa.Column("category", sa.String(20), nullable=True))
    op.add_column("audit_entries", sa.Column("tenant_seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_entries", sa.Column("entry_hash", sa.String(64), nullable=True))
    op.add_column("audit_entries", sa.Column("jigyosho_id", sa.String(36), nullable=True))
    op.create_table(
        "audit_targets",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("event_id", "key", name="pk_audit_targets"),
    )
    op.create_index("ix_audit_targets_tenant_value", "audit_targets", ["tenant_id", "value"])
    op.create_table(
        "audit_chain_heads",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "category", name="pk_audit_chain_heads"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", SEQ, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("tenant_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_index("ix_audit_checkpoints_chain", "audit_checkpoints", ["tenant_id", "category", "tenant_seq"])
    _chain_existing_entries()
    with op.batch_alter_table("audit_entries") as batch:
        batch.alter_column("category", existing_type=sa.String(20), nullable=False)
        batch.alter_column("tenant_seq", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("entry_hash", existing_type=sa.String(64), nullable=False)
    op.create_index("ux_audit_entries_chain", "audit_entries", ["tenant_id", "category", "tenant_seq"], unique=True)
    op.create_index("ix_audit_entries_tenant_actor", "audit_entries", ["tenant_id", "actor_id"])


def _chain_existing_entries() -> None:
    bind = op.get_bind()
    entries = sa.table(
        "audit_entries", sa.column("seq", sa.BigInteger()), sa.column("event_id", sa.String()),
        sa.column("tenant_id", sa.String()), sa.column("type", sa.String()), sa.column("actor_kind", sa.String()),
        sa.column("actor_id", sa.String()), sa.column("actor_ip", sa.String()), sa.column("subject", sa.JSON()),
        sa.column("data", sa.JSON()), sa.column("trace_id", sa.String()), sa.column("occurred_at", UtcDateTime()),
        sa.column("recorded_at", UtcDateTime()), sa.column("category", sa.String()),
        sa.column("tenant_seq", sa.BigInteger()), sa.column("entry_hash", sa.String()),
        sa.column("jigyosho_id", sa.String()))
    targets = sa.table("audit_targets", sa.column("event_id", sa.String()), sa.column("key", sa.String()),
                       sa.column("value", sa.String()), sa.column("tenant_id", sa.String()))
    heads = sa.table("audit_chain_heads", sa.column("tenant_id", sa.String()), sa.column("category", sa.String()),
                     sa.column("last_seq", sa.BigInteger()), sa.column("head_hash", sa.String()),
                     sa.column("updated_at", UtcDateTime()))
    state: dict[tuple[str, str], tuple[int, str]] = {}
    rows = bind.execute(sa.select(entries).order_by(entries.c.seq)).mappings().all()
    for r in rows:
        category = retention.category_of(r["type"])
        key = (r["tenant_id"] or chain.SYSTEM_CHAIN, category)
        last, prev = state.get(key, (0, chain.GENESIS))
        subject = dict(r["subject"] or {})
        jigyosho = subject.get("jigyosho_id")
        jigyosho = str(jigyosho)[:36] if jigyosho else None
        fields = chain.stored_fields(
            tenant_id=r["tenant_id"], category=category, tenant_seq=last + 1, event_id=r["event_id"], type=r["type"],
            actor_kind=r["actor_kind"], actor_id=r["actor_id"], actor_ip=r["actor_ip"], subject=subject,
            data=r["data"] or {}, trace_id=r["trace_id"], jigyosho_id=jigyosho, occurred_at=r["occurred_at"],
            recorded_at=r["recorded_at"])
        h = chain.entry_hash(prev, fields)
        bind.execute(entries.update().where(entries.c.seq == r["seq"]).values(
            category=category, tenant_seq=last + 1, entry_hash=h, jigyosho_id=jigyosho))
        for k, v in subject.items():
            if k != "tenant_id" and v:
                bind.execute(targets.insert().values(event_id=r["event_id"], key=k[:40], value=str(v)[:100],
                                                     tenant_id=r["tenant_id"]))
        state[key] = (last + 1, h)
    now = datetime.now(UTC)
    for (tenant, category), (last, h) in state.items():
        bind.execute(heads.insert().values(tenant_id=tenant, category=category, last_seq=last, head_hash=h,
                                           updated_at=now))


def downgrade() -> None:
    op.drop_index("ix_audit_entries_tenant_actor", table_name="audit_entries")
    op.drop_index("ux_audit_entries_chain", table_name="audit_entries")
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_column("jigyosho_id")
        batch.drop_column("entry_hash")
        batch.drop_column("tenant_seq")
        batch.drop_column("category")
    op.drop_index("ix_audit_checkpoints_chain", table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_heads")
    op.drop_index("ix_audit_targets_tenant_value", table_name="audit_targets")
    op.drop_table("audit_targets")
