"""Filings, outbox and inbox.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from shared.migrations import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "filings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("procedure_code", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_filings"),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_filings_tenant_idempotency_key"),
    )
    op.create_index("ix_filings_tenant_created", "filings", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_filings_tenant_created", table_name="filings")
    op.drop_table("filings")
    drop_messaging_tables()
