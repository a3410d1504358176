"""Partner clients: the revocable id their tokens carry (`sid`), so disabling or rotating a
client ends its tokens at once.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partner_clients") as batch:
        batch.add_column(sa.Column("token_sid", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partner_clients") as batch:
        batch.drop_column("token_sid")
