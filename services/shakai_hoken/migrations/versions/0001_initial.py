"""社会保険 offices, the person read model, enrolments and 標準報酬月額 history; outbox, inbox,
permission and 事業所 read models (issue #26).

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from shared.jigyosho_directory import create_jigyosho_directory_table, drop_jigyosho_directory_table
from shared.migrations import (
    create_messaging_tables,
    create_permission_tables,
    drop_messaging_tables,
    drop_permission_tables,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    create_permission_tables()
    create_jigyosho_directory_table()
    op.create_table(
        "shaho_offices",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("seiri_kigo", sa.String(20), nullable=False),
        sa.Column("office_number", sa.String(10), nullable=False),
        sa.Column("insurer_kind", sa.String(10), nullable=False),
        sa.Column("prefecture", sa.String(2), nullable=True),
        sa.Column("kumiai_name", sa.String(100), nullable=True),
        sa.Column("kumiai_rates", sa.JSON(), nullable=False),
        sa.Column("tokutei_tekiyo", sa.Boolean(), nullable=False),
        sa.Column("collection_timing", sa.String(12), nullable=False),
        sa.Column("rounding", sa.String(30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "jigyosho_id", name="pk_shaho_offices"),
    )
    op.create_table(
        "person_refs",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("insured_person_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("hire_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "insured_person_id", name="pk_person_refs"),
    )
    op.create_table(
        "enrolments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("insured_person_id", sa.String(36), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("acquired_on", sa.Date(), nullable=False),
        sa.Column("lost_on", sa.Date(), nullable=True),
        sa.Column("open_person", sa.String(36), nullable=True),
        sa.Column("worker_type", sa.String(20), nullable=False),
        sa.Column("kenpo", sa.Boolean(), nullable=False),
        sa.Column("kounen", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_enrolments"),
    )
    op.create_index("ix_enrolments_tenant_jigyosho", "enrolments", ["tenant_id", "jigyosho_id", "created_at"])
    op.create_index("uq_enrolments_tenant_person_acquired", "enrolments",
                    ["tenant_id", "insured_person_id", "acquired_on"], unique=True)
    op.create_index("uq_enrolments_tenant_open_person", "enrolments", ["tenant_id", "open_person"], unique=True)
    op.create_table(
        "standard_remunerations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("enrolment_id", sa.String(36), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("remuneration", sa.Integer(), nullable=False),
        sa.Column("kenpo_grade", sa.Integer(), nullable=False),
        sa.Column("kenpo_standard", sa.Integer(), nullable=False),
        sa.Column("kounen_grade", sa.Integer(), nullable=False),
        sa.Column("kounen_standard", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_standard_remunerations"),
    )
    op.create_index("uq_standard_remunerations_enrolment_month", "standard_remunerations",
                    ["enrolment_id", "effective_from"], unique=True)
    op.create_index("ix_standard_remunerations_tenant", "standard_remunerations", ["tenant_id"])
    op.create_table(
        "pay_months",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("enrolment_id", sa.String(36), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("pay", sa.Integer(), nullable=False),
        sa.Column("base_days", sa.Integer(), nullable=False),
        sa.Column("retro_pay", sa.Integer(), nullable=False),
        sa.Column("partial_first_month", sa.Boolean(), nullable=False),
        sa.Column("leave_pay", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pay_months"),
    )
    op.create_index("uq_pay_months_enrolment_month", "pay_months", ["enrolment_id", "month"], unique=True)
    op.create_index("ix_pay_months_tenant", "pay_months", ["tenant_id"])
    op.create_table(
        "teiji_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("scope_key", sa.String(400), nullable=False),
        sa.Column("jigyosho_ids", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teiji_runs"),
    )
    op.create_index("uq_teiji_runs_scope", "teiji_runs", ["tenant_id", "year", "scope_key"], unique=True)
    op.create_table(
        "teiji_results",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("enrolment_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("exclusion", sa.String(40), nullable=True),
        sa.Column("remuneration", sa.Integer(), nullable=True),
        sa.Column("old_kenpo_grade", sa.Integer(), nullable=True),
        sa.Column("old_kounen_grade", sa.Integer(), nullable=True),
        sa.Column("kenpo_grade", sa.Integer(), nullable=True),
        sa.Column("kenpo_standard", sa.Integer(), nullable=True),
        sa.Column("kounen_grade", sa.Integer(), nullable=True),
        sa.Column("kounen_standard", sa.Integer(), nullable=True),
        sa.Column("kept_previous", sa.Boolean(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teiji_results"),
    )
    op.create_index("uq_teiji_results_year_enrolment", "teiji_results", ["tenant_id", "year", "enrolment_id"],
                    unique=True)
    op.create_index("ix_teiji_results_run", "teiji_results", ["run_id", "jigyosho_id"])
    op.create_table(
        "bonuses",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("enrolment_id", sa.String(36), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bonuses"),
    )
    op.create_index("ix_bonuses_enrolment", "bonuses", ["enrolment_id", "paid_on"])
    op.create_index("ix_bonuses_tenant", "bonuses", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("bonuses")
    op.drop_table("teiji_results")
    op.drop_table("teiji_runs")
    op.drop_table("pay_months")
    op.drop_table("standard_remunerations")
    op.drop_table("enrolments")
    op.drop_table("person_refs")
    op.drop_table("shaho_offices")
    drop_jigyosho_directory_table()
    drop_permission_tables()
    drop_messaging_tables()
