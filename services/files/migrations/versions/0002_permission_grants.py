"""The permission read model (shared.permissions): grants of the tenant's users, fed by
roumu.accounts.user.permissions_changed, checked by every route.

Revision ID: 0002
Revises: 0001
"""
from shared.migrations import create_permission_tables, drop_permission_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_permission_tables()


def downgrade() -> None:
    drop_permission_tables()
