"""Issue 7: members' full fields (委託 end and scope, size, 労災 業種, 雇用 事業区分, 枝番号, bank
details), the association, 特別加入 spans, wage reports.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MEMBER_COLUMNS = [
    sa.Column("entrusted_until", sa.Date(), nullable=True),
    sa.Column("entrusted_scope", sa.JSON(), nullable=True),
    sa.Column("regular_workers", sa.Integer(), nullable=True),
    sa.Column("insured_workers", sa.Integer(), nullable=True),
    sa.Column("main_business", sa.String(20), nullable=True),
    sa.Column("rousai_code", sa.String(2), nullable=True),
    sa.Column("koyo_kubun", sa.String(20), nullable=True),
    sa.Column("branch_number", sa.String(3), nullable=True),
    sa.Column("established_on", sa.Date(), nullable=True),
    sa.Column("owner_address", sa.String(300), nullable=True),
    sa.Column("business_name", sa.String(200), nullable=True),
    sa.Column("business_address", sa.String(300), nullable=True),
    sa.Column("business_kind", sa.String(100), nullable=True),
    sa.Column("bank_code", sa.String(4), nullable=True),
    sa.Column("bank_branch_code", sa.String(3), nullable=True),
    sa.Column("account_type", sa.String(10), nullable=True),
    sa.Column("account_number", sa.String(7), nullable=True),
    sa.Column("account_holder_kana", sa.String(60), nullable=True),
]


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        for column in MEMBER_COLUMNS:
            batch.add_column(column)
    op.create_table(
        "associations",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("labour_insurance_number", sa.String(14), nullable=False),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_associations"),
    )
    op.create_table(
        "special_enrolments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("person_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("daily_amount", sa.Integer(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_special_enrolments"),
    )
    op.create_index("ix_special_enrolments_member", "special_enrolments", ["tenant_id", "member_id"])
    op.create_table(
        "wage_reports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("rousai_wages", sa.BigInteger(), nullable=False),
        sa.Column("koyo_wages", sa.BigInteger(), nullable=False),
        sa.Column("paid_estimate", sa.BigInteger(), nullable=True),
        sa.Column("estimated_rousai_wages", sa.BigInteger(), nullable=True),
        sa.Column("estimated_koyo_wages", sa.BigInteger(), nullable=True),
        sa.Column("excess_use", sa.String(30), nullable=False),
        sa.Column("installments_requested", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wage_reports"),
        sa.UniqueConstraint("tenant_id", "member_id", "fiscal_year", name="uq_wage_reports_member_year"),
    )


def downgrade() -> None:
    op.drop_table("wage_reports")
    op.drop_index("ix_special_enrolments_member", table_name="special_enrolments")
    op.drop_table("special_enrolments")
    op.drop_table("associations")
    with op.batch_alter_table("members") as batch:
        for column in reversed(MEMBER_COLUMNS):
            batch.drop_column(column.name)
