"""Issue 6: the insured person's remaining fields (foreign workers, 被保険者番号, contract, wage,
sealed My Number) and the procedures table.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PERSON_COLUMNS = [
    sa.Column("gender", sa.String(10), nullable=True),
    sa.Column("nationality", sa.String(50), nullable=True),
    sa.Column("romaji_name", sa.String(100), nullable=True),
    sa.Column("residence_status", sa.String(50), nullable=True),
    sa.Column("residence_card_number", sa.String(12), nullable=True),
    sa.Column("residence_period_end", sa.Date(), nullable=True),
    sa.Column("outside_status_permission", sa.Boolean(), nullable=True),
    sa.Column("dispatch_or_contract_work", sa.Boolean(), nullable=True),
    sa.Column("hihokensha_bango", sa.String(13), nullable=True),
    sa.Column("contract_end", sa.Date(), nullable=True),
    sa.Column("renewal_clause", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("employment_type", sa.String(30), nullable=True),
    sa.Column("wage_payment", sa.String(20), nullable=True),
    sa.Column("monthly_wage", sa.Integer(), nullable=True),
    sa.Column("job_type", sa.String(50), nullable=True),
    sa.Column("student", sa.String(40), nullable=False, server_default="none"),
    sa.Column("leave_date", sa.Date(), nullable=True),
    sa.Column("my_number_sealed", sa.String(200), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
]


def upgrade() -> None:
    with op.batch_alter_table("insured_persons") as batch:
        for column in PERSON_COLUMNS:
            batch.add_column(column)
    op.create_table(
        "procedures",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("insured_person_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("raw_due_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("deadline_rule", sa.String(60), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("proc_id", sa.String(16), nullable=True),
        sa.Column("filing_id", sa.String(36), nullable=True),
        sa.Column("filing_status", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_procedures"),
    )
    op.create_index("ix_procedures_tenant_jigyosho_due", "procedures", ["tenant_id", "jigyosho_id", "due_date"])
    op.create_index("ix_procedures_person", "procedures", ["tenant_id", "insured_person_id"])
    op.create_index("ix_procedures_filing", "procedures", ["filing_id"])


def downgrade() -> None:
    op.drop_index("ix_procedures_filing", table_name="procedures")
    op.drop_index("ix_procedures_person", table_name="procedures")
    op.drop_index("ix_procedures_tenant_jigyosho_due", table_name="procedures")
    op.drop_table("procedures")
    with op.batch_alter_table("insured_persons") as batch:
        for column in reversed(PERSON_COLUMNS):
            batch.drop_column(column.name)
