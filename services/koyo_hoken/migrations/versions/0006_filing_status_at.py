"""When the e-filing status text of a procedure was observed (`filing_status_at`, the event's
occurred_at): a late, older e-filing event no longer sets the displayed text back.

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
    with op.batch_alter_table("procedures") as batch:
        batch.add_column(sa.Column("filing_status_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("procedures") as batch:
        batch.drop_column("filing_status_at")
