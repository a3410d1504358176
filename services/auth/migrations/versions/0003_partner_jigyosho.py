"""Partner clients: the 事業所 the tenant granted each client (null = every 事業所).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partner_clients") as batch:
        batch.add_column(sa.Column("jigyosho_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partner_clients") as batch:
        batch.drop_column("jigyosho_ids")
