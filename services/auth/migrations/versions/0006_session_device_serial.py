"""Sessions: the device certificate their login presented, so revoking it ends them.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("device_serial", sa.String(40), nullable=True))
        batch.create_index("ix_sessions_device_serial", ["device_serial"])


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_device_serial")
        batch.drop_column("device_serial")
