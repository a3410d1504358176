"""Users' mail address and digest preference, and the mail delivery log (issue 24.2).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))
        batch.add_column(sa.Column("deadline_digest_days", sa.Integer(), nullable=True))
    op.create_table(
        "mail_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("ref_id", sa.String(36), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("kind", "ref_id", "user_id", name="uq_mail_deliveries_kind"),
    )
    op.create_index("ix_mail_deliveries_tenant_id", "mail_deliveries", ["tenant_id"])
    op.create_index("ix_mail_deliveries_due", "mail_deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("mail_deliveries")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deadline_digest_days")
        batch.drop_column("email")
