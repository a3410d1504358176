"""Issue 18 item 11: the procedures and filings files may be attached to, with their 事業所 (a read
model of koyo_hoken's and efiling's events), so an upload cannot name another 事業所's procedure.

The events of procedures and filings created before this revision were not kept by this service:
the references existing files already carry are taken over (they were accepted then), and a
procedure or filing older than this revision with no file yet answers 404 when named in an upload
(docs/files.md).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachable_refs",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref_id", sa.String(64), nullable=False),
        sa.Column("jigyosho_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "ref_id", name="pk_attachable_refs"),
    )
    for kind, column in (("procedure", "procedure_id"), ("filing", "filing_id")):
        # One row per reference: if files of two 事業所 named the same id, the earliest file's 事業所 wins.
        sql = (f"INSERT INTO attachable_refs (tenant_id, kind, ref_id, jigyosho_id) "  # noqa: S608 - constants
               f"SELECT f.tenant_id, '{kind}', f.{column}, MIN(f.jigyosho_id) FROM files f "
               f"WHERE f.{column} IS NOT NULL AND f.jigyosho_id IS NOT NULL GROUP BY f.tenant_id, f.{column}")
        op.execute(sa.text(sql))


def downgrade() -> None:
    op.drop_table("attachable_refs")
