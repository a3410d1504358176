"""Issue 7: the 雇用保険被保険者関係届出事務等処理簿 (filing_book_entries, fed by koyo_hoken and efiling
events) and retention: ledger_purge_permits and a trigger refusing DELETE on ledger_entries unless a
permit of the same transaction covers the row (the UPDATE trigger of 0004 stays).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PERMITTED = ("EXISTS (SELECT 1 FROM ledger_purge_permits p WHERE p.tenant_id = OLD.tenant_id"
             " AND (p.member_id IS NULL OR p.member_id = OLD.member_id)"
             " AND (p.fiscal_year IS NULL OR p.fiscal_year = OLD.fiscal_year))")
MESSAGE = "ledger_entries rows leave only by the retention job or the tenant purge"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ledger_entries_delete_guard() RETURNS trigger AS $$
BEGIN
    IF NOT {PERMITTED} THEN
        RAISE EXCEPTION '{MESSAGE}';
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "filing_book_entries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.Column("procedure_id", sa.String(100), nullable=False),
        sa.Column("insured_person_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(40), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=True),
        sa.Column("processed_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filing_id", sa.String(64), nullable=True),
        sa.Column("filing_status", sa.String(30), nullable=True),
        sa.Column("filing_status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrive_id", sa.String(18), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_filing_book_entries"),
        sa.UniqueConstraint("tenant_id", "procedure_id", name="uq_filing_book_entries_procedure"),
    )
    op.create_index("ix_filing_book_entries_tenant_received", "filing_book_entries", ["tenant_id", "received_on"])
    op.create_index("ix_filing_book_entries_member", "filing_book_entries", ["tenant_id", "member_id"])
    op.create_table(
        "ledger_purge_permits",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=True),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_purge_permits"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute("CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_entries_delete_guard()")
    else:
        op.execute(f"CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
                   f"WHEN NOT {PERMITTED} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_delete" +
               (" ON ledger_entries" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_delete_guard()")
    op.drop_table("ledger_purge_permits")
    op.drop_index("ix_filing_book_entries_member", table_name="filing_book_entries")
    op.drop_index("ix_filing_book_entries_tenant_received", table_name="filing_book_entries")
    op.drop_table("filing_book_entries")
