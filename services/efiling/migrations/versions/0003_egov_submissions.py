"""e-Gov accounts (sealed tokens), submissions (write-before-call state), history, packages as
sent, notices, 公文書 and their bytes (until the files service has uploads), bulk sends.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bulk_sends',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('egov_account_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('file_name', sa.String(length=256), nullable=False),
    sa.Column('send_number', sa.String(length=18), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('started_at', shared.db.UtcDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_sends')),
    sa.UniqueConstraint('send_number', name=op.f('uq_bulk_sends_send_number'))
    )
    with op.batch_alter_table('bulk_sends', schema=None) as batch_op:
        batch_op.create_index('ix_bulk_sends_account', ['egov_account_id'], unique=False)

    op.create_table('document_blobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', shared.db.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_blobs'))
    )
    op.create_table('egov_accounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('egov_subject', sa.String(length=200), nullable=True),
    sa.Column('oauth_state_hash', sa.String(length=64), nullable=True),
    sa.Column('code_verifier_sealed', sa.Text(), nullable=True),
    sa.Column('access_token_sealed', sa.Text(), nullable=True),
    sa.Column('refresh_token_sealed', sa.Text(), nullable=True),
    sa.Column('access_expires_at', shared.db.UtcDateTime(), nullable=True),
    sa.Column('refresh_expires_at', shared.db.UtcDateTime(), nullable=True),
    sa.Column('inflight_filing_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', shared.db.UtcDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_egov_accounts')),
    sa.UniqueConstraint('oauth_state_hash', name=op.f('uq_egov_accounts_oauth_state_hash'))
    )
    with op.batch_alter_table('egov_accounts', schema=None) as batch_op:
        batch_op.create_index('ix_egov_accounts_tenant', ['tenant_id'], unique=False)

    op.create_table('filing_history',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('filing_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('at', shared.db.UtcDateTime(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=True),
    sa.Column('egov_status', sa.String(length=256), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_filing_history'))
    )
    with op.batch_alter_table('filing_history', schema=None) as batch_op:
        batch_op.create_index('ix_filing_history_filing', ['filing_id', 'seq'], unique=False)

    op.create_table('filing_notices',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('filing_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('notice_sub_id', sa.Integer(), nullable=False),
    sa.Column('notice_type', sa.String(length=20), nullable=False),
    sa.Column('correct_type', sa.String(length=20), nullable=True),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('sentence', sa.Text(), nullable=False),
    sa.Column('correct_expired_date', sa.String(length=10), nullable=True),
    sa.Column('issued', sa.String(length=19), nullable=True),
    sa.Column('received_at', shared.db.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filing_notices')),
    sa.UniqueConstraint('filing_id', 'notice_sub_id', name='uq_filing_notices_filing_sub')
    )
    op.create_table('filing_packages',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('filing_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('file_name', sa.String(length=256), nullable=False),
    sa.Column('zip_data', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('signed', sa.Boolean(), nullable=False),
    sa.Column('created_at', shared.db.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filing_packages'))
    )
    with op.batch_alter_table('filing_packages', schema=None) as batch_op:
        batch_op.create_index('ix_filing_packages_filing', ['filing_id'], unique=False)

    op.create_table('official_documents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('filing_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('notice_sub_id', sa.Integer(), nullable=False),
    sa.Column('doc_title', sa.String(length=256), nullable=False),
    sa.Column('file_names', sa.JSON(), nullable=False),
    sa.Column('blob_id', sa.String(length=36), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('signed', sa.Boolean(), nullable=False),
    sa.Column('signature_valid', sa.Boolean(), nullable=True),
    sa.Column('signer', sa.String(length=500), nullable=True),
    sa.Column('egov_verify_result', sa.String(length=256), nullable=True),
    sa.Column('downloaded_at', shared.db.UtcDateTime(), nullable=False),
    sa.Column('completed_at', shared.db.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_official_documents')),
    sa.UniqueConstraint('filing_id', 'notice_sub_id', name='uq_official_documents_filing_sub')
    )
    op.create_table('submissions',
    sa.Column('filing_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('egov_account_id', sa.String(length=36), nullable=False),
    sa.Column('proc_id', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('egov_status', sa.String(length=256), nullable=True),
    sa.Column('form_data_sealed', sa.Text(), nullable=False),
    sa.Column('applicant', sa.JSON(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('sign', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('send_started_at', shared.db.UtcDateTime(), nullable=True),
    sa.Column('arrive_id', sa.String(length=18), nullable=True),
    sa.Column('arrive_date', sa.String(length=19), nullable=True),
    sa.Column('bulk_send_id', sa.String(length=36), nullable=True),
    sa.Column('send_number', sa.String(length=18), nullable=True),
    sa.Column('bulk_folder', sa.String(length=40), nullable=True),
    sa.Column('next_poll_at', shared.db.UtcDateTime(), nullable=True),
    sa.Column('poll_failures', sa.Integer(), nullable=False),
    sa.Column('correction_deadline', sa.String(length=10), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', shared.db.UtcDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('filing_id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('arrive_id', name='uq_submissions_arrive_id')
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index('ix_submissions_account', ['egov_account_id'], unique=False)
        batch_op.create_index('ix_submissions_send_number', ['send_number'], unique=False)
        batch_op.create_index('ix_submissions_state_next_poll', ['state', 'next_poll_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_state_next_poll')
        batch_op.drop_index('ix_submissions_send_number')
        batch_op.drop_index('ix_submissions_account')

    op.drop_table('submissions')
    op.drop_table('official_documents')
    with op.batch_alter_table('filing_packages', schema=None) as batch_op:
        batch_op.drop_index('ix_filing_packages_filing')

    op.drop_table('filing_packages')
    op.drop_table('filing_notices')
    with op.batch_alter_table('filing_history', schema=None) as batch_op:
        batch_op.drop_index('ix_filing_history_filing')

    op.drop_table('filing_history')
    with op.batch_alter_table('egov_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_egov_accounts_tenant')

    op.drop_table('egov_accounts')
    op.drop_table('document_blobs')
    with op.batch_alter_table('bulk_sends', schema=None) as batch_op:
        batch_op.drop_index('ix_bulk_sends_account')

    op.drop_table('bulk_sends')
