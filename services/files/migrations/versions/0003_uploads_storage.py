"""Uploads: ownership (事業所, procedure, filing), storage key, wrapped file key, scan result,
retention and deletion on files; tenant keys; tenant usage (quotas).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("jigyosho_id", sa.String(36)),
    ("procedure_id", sa.String(64)),
    ("filing_id", sa.String(64)),
    ("storage_key", sa.String(200)),
    ("sealed_size", sa.BigInteger()),
    ("wrapped_key", sa.String(200)),
    ("scan_status", sa.String(20)),
    ("scan_signature", sa.String(200)),
    ("scanned_at", sa.DateTime(timezone=True)),
    ("uploaded_by", sa.String(64)),
    ("retention_until", sa.DateTime(timezone=True)),
    ("deleted_at", sa.DateTime(timezone=True)),
    ("deleted_reason", sa.String(20)),
)


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        for name, type_ in _COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_index("ix_files_tenant_jigyosho", "files", ["tenant_id", "jigyosho_id"])
    op.create_index("ix_files_status_retention", "files", ["status", "retention_until"])
    op.create_table(
        "tenant_keys",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("sealed_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_keys"),
    )
    op.create_table(
        "tenant_usage",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("bytes_used", sa.BigInteger(), nullable=False),
        sa.Column("files_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_usage"),
    )


def downgrade() -> None:
    op.drop_table("tenant_usage")
    op.drop_table("tenant_keys")
    op.drop_index("ix_files_status_retention", table_name="files")
    op.drop_index("ix_files_tenant_jigyosho", table_name="files")
    with op.batch_alter_table("files") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
