"""Issue 29: one unfinished 年度更新 run per tenant and year (a partial unique index), and a
heartbeat so a run whose process died can be taken over. Runs left unfinished by the old race
(a second run failing half-way with a 500) are closed first, or the index could not be built.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RUNNING = sa.text("finished_at IS NULL")


def upgrade() -> None:
    op.add_column("renewal_runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE renewal_runs SET finished_at = started_at WHERE finished_at IS NULL")
    op.create_index("uq_renewal_runs_running", "renewal_runs", ["tenant_id", "fiscal_year"], unique=True,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)


def downgrade() -> None:
    op.drop_index("uq_renewal_runs_running", table_name="renewal_runs")
    with op.batch_alter_table("renewal_runs") as batch:
        batch.drop_column("heartbeat_at")
