"""Ingest keys: the target index keyed by the entry's row number, no unique index on event ids.

Both were B-trees keyed by random UUIDs, so every appended entry dirtied a page of each, which
dominated the ingest (docs/audit_log.md, "Throughput"). Exactly-once stays with the inbox, whose
key is the same event id, claimed in the entry's transaction; no query looks entries up by event id.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_targets_0004",
        sa.Column("entry_seq", SEQ, nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
    )
    op.execute("INSERT INTO audit_targets_0004 (entry_seq, key, value, tenant_id) "
               "SELECT e.seq, t.key, t.value, t.tenant_id FROM audit_targets t "
               "JOIN audit_entries e ON e.event_id = t.event_id")
    op.drop_index("ix_audit_targets_tenant_value", table_name="audit_targets")
    op.drop_table("audit_targets")
    op.create_table(
        "audit_targets",
        sa.Column("entry_seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("entry_seq", "key", name="pk_audit_targets"),
    )
    op.execute("INSERT INTO audit_targets (entry_seq, key, value, tenant_id) "
               "SELECT entry_seq, key, value, tenant_id FROM audit_targets_0004")
    op.drop_table("audit_targets_0004")
    op.create_index("ix_audit_targets_tenant_value", "audit_targets", ["tenant_id", "value", "entry_seq"])
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_constraint("uq_audit_entries_event_id", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.create_unique_constraint("uq_audit_entries_event_id", ["event_id"])
    op.create_table(
        "audit_targets_0003",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
    )
    op.execute("INSERT INTO audit_targets_0003 (event_id, key, value, tenant_id) "
               "SELECT e.event_id, t.key, t.value, t.tenant_id FROM audit_targets t "
               "JOIN audit_entries e ON e.seq = t.entry_seq")
    op.drop_index("ix_audit_targets_tenant_value", table_name="audit_targets")
    op.drop_table("audit_targets")
    op.create_table(
        "audit_targets",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("event_id", "key", name="pk_audit_targets"),
    )
    op.execute("INSERT INTO audit_targets (event_id, key, value, tenant_id) "
               "SELECT event_id, key, value, tenant_id FROM audit_targets_0003")
    op.drop_table("audit_targets_0003")
    op.create_index("ix_audit_targets_tenant_value", "audit_targets", ["tenant_id", "value"])
