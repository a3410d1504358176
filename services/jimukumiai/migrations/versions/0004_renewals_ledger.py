"""Issue 7: 年度更新 runs and results, the append-only 徴収及び納付簿 (ledger_entries, with a
trigger refusing UPDATE on both engines), due notices.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: correct with a reversal entry';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "renewal_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed", sa.Integer(), nullable=False),
        sa.Column("already_renewed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_renewal_runs"),
    )
    op.create_index("ix_renewal_runs_tenant_year", "renewal_runs", ["tenant_id", "fiscal_year"])
    op.create_table(
        "renewals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("estimate_total", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_renewals"),
        sa.UniqueConstraint("tenant_id", "member_id", "fiscal_year", name="uq_renewals_member_year"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("period", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("reverses_id", sa.String(36), nullable=True),
        sa.Column("renewal_id", sa.String(36), nullable=True),
        sa.Column("note", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.UniqueConstraint("reverses_id", name="uq_ledger_entries_reverses_id"),
    )
    op.create_index("ix_ledger_entries_member_year", "ledger_entries", ["tenant_id", "member_id", "fiscal_year"])
    op.create_index("ix_ledger_entries_tenant_due", "ledger_entries", ["tenant_id", "due_on"])
    op.create_table(
        "due_notices",
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_due_notices"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute("CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()")
    else:
        op.execute("CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
                   "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only: correct with a reversal entry'); END")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update" +
               (" ON ledger_entries" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_append_only()")
    op.drop_table("due_notices")
    op.drop_index("ix_ledger_entries_tenant_due", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_member_year", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("renewals")
    op.drop_index("ix_renewal_runs_tenant_year", table_name="renewal_runs")
    op.drop_table("renewal_runs")
