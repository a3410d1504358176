"""Members (委託事業主), outbox and inbox.

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
        "members",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("labour_insurance_number", sa.String(14), nullable=False),
        sa.Column("entrusted_from", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
        sa.UniqueConstraint("tenant_id", "labour_insurance_number", name="uq_members_tenant_lin"),
    )
    op.create_index("ix_members_tenant_created", "members", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_members_tenant_created", table_name="members")
    op.drop_table("members")
    drop_messaging_tables()
