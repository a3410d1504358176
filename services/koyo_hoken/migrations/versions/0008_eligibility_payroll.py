"""Issue 25: eligibility as data, and payroll intake.

* `eligibility_decisions`: each person's current 雇用保険 eligibility decision (insured or not, the
  reason, the rule version, the date judged on).
* `eligibility_changes`: the persons whose status a re-judgement for a date changed, with the
  procedure the change requires and its deadline; one per person and date (a re-run adds none).
* `rejudgement_schedule`: the scheduled re-judgements done per tenant and rule change date.
* `import_mappings`: a tenant's named CSV column mappings (payroll exports).
* `wage_records`: imported wage history per person (monthly wages by 賃金締切 period, bonuses).
* `insured_persons.employee_number`: the payroll system's 従業員番号, to match wage rows.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("insured_persons") as batch:
        batch.add_column(sa.Column("employee_number", sa.String(30), nullable=True))
    op.create_index("ix_insured_persons_tenant_employee_number", "insured_persons", ["tenant_id", "employee_number"])
    op.create_table(
        "eligibility_decisions",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("insured_person_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("insured", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(20), nullable=True),
        sa.Column("reason_code", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("rule_version", sa.String(60), nullable=False),
        sa.Column("judged_on", sa.Date(), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "insured_person_id", name="pk_eligibility_decisions"),
    )
    op.create_table(
        "eligibility_changes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("insured_person_id", sa.String(36), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("previous_insured", sa.Boolean(), nullable=False),
        sa.Column("insured", sa.Boolean(), nullable=False),
        sa.Column("previous_rule_version", sa.String(60), nullable=False),
        sa.Column("rule_version", sa.String(60), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("procedure_kind", sa.String(40), nullable=True),
        sa.Column("raw_due_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("deadline_rule", sa.String(60), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_eligibility_changes"),
    )
    op.create_index("uq_eligibility_changes_person_as_of", "eligibility_changes",
                    ["tenant_id", "insured_person_id", "as_of"], unique=True)
    op.create_index("ix_eligibility_changes_tenant_as_of", "eligibility_changes", ["tenant_id", "as_of", "jigyosho_id"])
    op.create_table(
        "rejudgement_schedule",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("judged", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "as_of", name="pk_rejudgement_schedule"),
    )
    op.create_table(
        "import_mappings",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("default_action", sa.String(10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_import_mappings"),
    )
    op.create_table(
        "wage_records",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("insured_person_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("basic_days", sa.Integer(), nullable=True),
        sa.Column("hours", sa.Numeric(6, 2), nullable=True),
        sa.Column("wages_a", sa.Integer(), nullable=False),
        sa.Column("wages_b", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wage_records"),
    )
    op.create_index("uq_wage_records_person_period", "wage_records",
                    ["tenant_id", "insured_person_id", "kind", "period_start"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_wage_records_person_period", table_name="wage_records")
    op.drop_table("wage_records")
    op.drop_table("import_mappings")
    op.drop_table("rejudgement_schedule")
    op.drop_index("ix_eligibility_changes_tenant_as_of", table_name="eligibility_changes")
    op.drop_index("uq_eligibility_changes_person_as_of", table_name="eligibility_changes")
    op.drop_table("eligibility_changes")
    op.drop_table("eligibility_decisions")
    op.drop_index("ix_insured_persons_tenant_employee_number", table_name="insured_persons")
    with op.batch_alter_table("insured_persons") as batch:
        batch.drop_column("employee_number")
