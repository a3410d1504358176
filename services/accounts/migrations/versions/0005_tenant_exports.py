"""Whole-tenant exports before deletion (返却, issue 24.5).

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
    op.create_table(
        "tenant_exports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("my_numbers_included", sa.Boolean(), nullable=False),
        sa.Column("recipient_fingerprint", sa.String(64), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(100), nullable=False),
        sa.Column("key_id", sa.String(100), nullable=False),
        sa.Column("archive_sha256", sa.String(64), nullable=True),
        sa.Column("archive_size", sa.BigInteger(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_tenant_exports_tenant_id", "tenant_exports", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("tenant_exports")
