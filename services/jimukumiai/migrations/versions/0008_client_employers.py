"""Issue 25: the 社労士 office's own client employers beside the 事務組合's 委託事業主.

`members.kind`: `entrusted` (委託事業主 of the association; every row before this migration) or
`client` (an employer the office serves outside the association: 延納 only from 400,000 円, due
dates 7/10, 10/31, 1/31). `renewal_runs.kind`: whose run it was; the one-unfinished-run index is
per kind, so the association's run and the office's run of a year never wait on each other.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RUNNING = sa.text("finished_at IS NULL")


def upgrade() -> None:
    op.add_column("members", sa.Column("kind", sa.String(20), nullable=False, server_default="entrusted"))
    op.create_index("ix_members_tenant_kind", "members", ["tenant_id", "kind"])
    op.add_column("renewal_runs", sa.Column("kind", sa.String(20), nullable=False, server_default="entrusted"))
    op.drop_index("uq_renewal_runs_running", table_name="renewal_runs")
    op.create_index("uq_renewal_runs_running", "renewal_runs", ["tenant_id", "fiscal_year", "kind"], unique=True,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)


def downgrade() -> None:
    # Refused while clients exist: dropping the column would turn them into 委託事業主.
    if op.get_bind().execute(sa.text("SELECT count(*) FROM members WHERE kind <> 'entrusted'")).scalar():
        raise RuntimeError("client employers exist: remove them before downgrading below 0008")
    op.execute("DELETE FROM renewal_runs WHERE kind <> 'entrusted'")
    op.drop_index("uq_renewal_runs_running", table_name="renewal_runs")
    op.create_index("uq_renewal_runs_running", "renewal_runs", ["tenant_id", "fiscal_year"], unique=True,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)
    with op.batch_alter_table("renewal_runs") as batch:
        batch.drop_column("kind")
    op.drop_index("ix_members_tenant_kind", table_name="members")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("kind")
