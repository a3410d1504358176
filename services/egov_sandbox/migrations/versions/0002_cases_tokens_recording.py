"""Scripted cases, notices, 公文書, bulk sends, OAuth codes and tokens, and the request recording.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # The skeleton's rows have no script or account: the sandbox holds test data only, start clean.
    op.drop_table("sandbox_cases")
    op.create_table(
        "sandbox_cases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("arrival_number", sa.String(18), nullable=False),
        sa.Column("proc_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(256), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("apply_type", sa.String(20), nullable=False),
        sa.Column("proc_name", sa.String(256), nullable=False),
        sa.Column("applicant_name", sa.String(256), nullable=False),
        sa.Column("corporation_name", sa.String(256), nullable=False),
        sa.Column("send_number", sa.String(18), nullable=True),
        sa.Column("bulk_no", sa.Integer(), nullable=True),
        sa.Column("folder_name", sa.String(256), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("after_amend", sa.JSON(), nullable=False),
        sa.Column("withdraw_outcome", sa.String(10), nullable=False),
        sa.Column("advance", sa.String(10), nullable=False),
        sa.Column("withdraw_flag", sa.Boolean(), nullable=False),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_cases"),
        sa.UniqueConstraint("arrival_number", name="uq_sandbox_cases_arrival_number"),
    )
    op.create_index("ix_sandbox_cases_account", "sandbox_cases", ["account"])
    op.create_index("ix_sandbox_cases_send_number", "sandbox_cases", ["send_number"])
    op.create_table(
        "sandbox_notices",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("notice_sub_id", sa.Integer(), nullable=False),
        sa.Column("notice_type", sa.String(20), nullable=False),
        sa.Column("correct_type", sa.String(20), nullable=True),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("sentence", sa.Text(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("correct_expired_date", sa.String(10), nullable=True),
        sa.Column("correct_completed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_notices"),
    )
    op.create_index("ix_sandbox_notices_case_id", "sandbox_notices", ["case_id"])
    op.create_table(
        "sandbox_documents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("notice_sub_id", sa.Integer(), nullable=False),
        sa.Column("doc_title", sa.String(256), nullable=False),
        sa.Column("file_names", sa.JSON(), nullable=False),
        sa.Column("zip_data", sa.LargeBinary(), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("allowed_at", UtcDateTime(), nullable=False),
        sa.Column("download_expired_date", sa.String(10), nullable=False),
        sa.Column("downloaded_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_documents"),
    )
    op.create_index("ix_sandbox_documents_case_id", "sandbox_documents", ["case_id"])
    op.create_table(
        "sandbox_sends",
        sa.Column("send_number", sa.String(18), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("file_name", sa.String(256), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.Column("apply_count", sa.Integer(), nullable=False),
        sa.Column("arrive_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("send_number", name="pk_sandbox_sends"),
    )
    op.create_index("ix_sandbox_sends_account", "sandbox_sends", ["account"])
    op.create_table(
        "sandbox_auth_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("redirect_uri", sa.String(1000), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name="pk_sandbox_auth_codes"),
    )
    op.create_table(
        "sandbox_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("access_hash", sa.String(64), nullable=False),
        sa.Column("refresh_hash", sa.String(64), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("session_state", sa.String(36), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("access_expires_at", UtcDateTime(), nullable=False),
        sa.Column("refresh_expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_tokens"),
        sa.UniqueConstraint("access_hash", name="uq_sandbox_tokens_access_hash"),
        sa.UniqueConstraint("refresh_hash", name="uq_sandbox_tokens_refresh_hash"),
    )
    op.create_table(
        "sandbox_requests",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("fault", sa.String(20), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_sandbox_requests"),
    )


def downgrade() -> None:
    for table in ("sandbox_requests", "sandbox_tokens", "sandbox_auth_codes", "sandbox_sends",
                  "sandbox_documents", "sandbox_notices"):
        op.drop_table(table)
    op.drop_index("ix_sandbox_cases_send_number", table_name="sandbox_cases")
    op.drop_index("ix_sandbox_cases_account", table_name="sandbox_cases")
    op.drop_table("sandbox_cases")
    op.create_table(
        "sandbox_cases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("arrival_number", sa.String(18), nullable=False),
        sa.Column("proc_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(256), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_cases"),
        sa.UniqueConstraint("arrival_number", name="uq_sandbox_cases_arrival_number"),
    )
