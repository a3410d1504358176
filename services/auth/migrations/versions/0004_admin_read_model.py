"""The permission read model (shared.permissions), from which auth decides administrators and
detects grant changes; who created each partner client.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

from shared.migrations import create_permission_tables, drop_permission_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_permission_tables()
    with op.batch_alter_table("partner_clients") as batch:
        batch.add_column(sa.Column("created_by", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partner_clients") as batch:
        batch.drop_column("created_by")
    drop_permission_tables()
