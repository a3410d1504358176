"""Tenant settings, user grants, 事業所 master, notices, contract terminations.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TENANT_COLUMNS = [
    ("totp_required", sa.Boolean(), "false"),
    ("device_cert_required", sa.Boolean(), "false"),
    ("ip_allowlist", sa.JSON(), "'[]'"),
    ("password_policy", sa.JSON(), "'{}'"),
    ("lockout_policy", sa.JSON(), "'{}'"),
]
_USER_COLUMNS = [
    ("menus", sa.JSON(), "'{}'"),
    ("jigyosho_all", sa.Boolean(), "false"),
    ("jigyosho_ids", sa.JSON(), "'[]'"),
    ("permissions_version", sa.Integer(), "1"),
]


def _add_not_null(table: str, columns: list) -> None:
    """Add, fill existing rows, then make NOT NULL (no server default stays behind)."""
    with op.batch_alter_table(table) as batch:
        for name, type_, _ in columns:
            batch.add_column(sa.Column(name, type_, nullable=True))
    for name, _, value in columns:
        op.execute(sa.text(f"UPDATE {table} SET {name} = {value}"))  # noqa: S608 - constants of this file
    with op.batch_alter_table(table) as batch:
        for name, type_, _ in columns:
            batch.alter_column(name, existing_type=type_, nullable=False)


def upgrade() -> None:
    _add_not_null("tenants", _TENANT_COLUMNS)
    _add_not_null("users", _USER_COLUMNS)
    op.create_table(
        "jigyosho",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_kana", sa.String(200), nullable=False),
        sa.Column("postal_code", sa.String(8), nullable=True),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("labour_insurance_number", sa.String(14), nullable=True),
        sa.Column("employment_insurance_office_number", sa.String(13), nullable=True),
        sa.Column("rousai_gyoshu_code", sa.String(2), nullable=True),
        sa.Column("koyo_jigyo_kubun", sa.String(30), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jigyosho"),
    )
    op.create_index("ix_jigyosho_tenant_created", "jigyosho", ["tenant_id", "created_at"])
    op.create_table(
        "notices",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("emergency_reason", sa.String(500), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visible_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
    )
    op.create_index("ix_notices_visible_until", "notices", ["visible_until"])
    op.create_table(
        "contract_terminations",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("tenant_code", sa.String(32), nullable=False),
        sa.Column("tenant_name", sa.String(200), nullable=False),
        sa.Column("contract_end", sa.Date(), nullable=False),
        sa.Column("accounts_disabled_on", sa.Date(), nullable=False),
        sa.Column("data_deleted_on", sa.Date(), nullable=False),
        sa.Column("accounts_deleted_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purge_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accounts_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("account_counts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_contract_terminations"),
    )
    op.create_index("ix_contract_terminations_status", "contract_terminations", ["status"])
    op.create_table(
        "purge_confirmations",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("service", sa.String(40), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "service", name="pk_purge_confirmations"),
    )


def downgrade() -> None:
    op.drop_table("purge_confirmations")
    op.drop_index("ix_contract_terminations_status", table_name="contract_terminations")
    op.drop_table("contract_terminations")
    op.drop_index("ix_notices_visible_until", table_name="notices")
    op.drop_table("notices")
    op.drop_index("ix_jigyosho_tenant_created", table_name="jigyosho")
    op.drop_table("jigyosho")
    with op.batch_alter_table("users") as batch:
        for name, _, _ in _USER_COLUMNS:
            batch.drop_column(name)
    with op.batch_alter_table("tenants") as batch:
        for name, _, _ in _TENANT_COLUMNS:
            batch.drop_column(name)
