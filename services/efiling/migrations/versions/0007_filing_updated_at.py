"""A filing remembers when what a reader sees of it last changed (`updated_at`, None until it
does), so partners can sync the filings list with `sort=updated_at&updated_since=` (issue #28).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
