"""Tenant refs, credentials, outbox and inbox.

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
        "tenant_refs",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_refs"),
        sa.UniqueConstraint("code", name="uq_tenant_refs_code"),
    )
    op.create_table(
        "credentials",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("login_id", sa.String(64), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_ip", sa.String(45), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_credentials"),
        sa.UniqueConstraint("tenant_id", "login_id", name="uq_credentials_tenant_login"),
    )
    op.create_index("ix_credentials_tenant_id", "credentials", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_credentials_tenant_id", table_name="credentials")
    op.drop_table("credentials")
    op.drop_table("tenant_refs")
    drop_messaging_tables()
