"""Sandbox cases, outbox and inbox.

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
        "sandbox_cases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("arrival_number", sa.String(18), nullable=False),
        sa.Column("proc_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(256), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_cases"),
        sa.UniqueConstraint("arrival_number", name="uq_sandbox_cases_arrival_number"),
    )


def downgrade() -> None:
    op.drop_table("sandbox_cases")
    drop_messaging_tables()
