"""Insured persons, outbox and inbox.

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
        "insured_persons",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("family_name", sa.String(50), nullable=False),
        sa.Column("given_name", sa.String(50), nullable=False),
        sa.Column("family_name_kana", sa.String(50), nullable=False),
        sa.Column("given_name_kana", sa.String(50), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("hire_date", sa.Date(), nullable=False),
        sa.Column("weekly_hours", sa.Numeric(5, 2), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_insured_persons"),
    )
    op.create_index("ix_insured_persons_tenant_jigyosho", "insured_persons",
                    ["tenant_id", "jigyosho_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_insured_persons_tenant_jigyosho", table_name="insured_persons")
    op.drop_table("insured_persons")
    drop_messaging_tables()
