"""Office certificates (PKCS#12 uploaded, private key re-sealed, password never kept), one chosen
per e-Gov account or the tenant's default; 公文書 stored through the files service (`file_id`),
documents received before keep their `document_blobs` row (`blob_id` becomes optional).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'office_certificates',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('tenant_id', sa.String(length=36), nullable=False),
        sa.Column('label', sa.String(length=100), nullable=False),
        sa.Column('subject', sa.String(length=1000), nullable=False),
        sa.Column('issuer', sa.String(length=1000), nullable=False),
        sa.Column('serial_number', sa.String(length=80), nullable=False),
        sa.Column('not_before', UtcDateTime(), nullable=False),
        sa.Column('not_after', UtcDateTime(), nullable=False),
        sa.Column('fingerprint_sha256', sa.String(length=64), nullable=False),
        sa.Column('key_size', sa.Integer(), nullable=False),
        sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
        sa.Column('chain', sa.JSON(), nullable=False),
        sa.Column('private_key_sealed', sa.Text(), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_office_certificates')),
    )
    op.create_index('ix_office_certificates_tenant', 'office_certificates', ['tenant_id'], unique=False)
    with op.batch_alter_table('egov_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certificate_id', sa.String(length=36), nullable=True))
    with op.batch_alter_table('official_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_id', sa.String(length=36), nullable=True))
        batch_op.alter_column('blob_id', existing_type=sa.String(length=36), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('official_documents', schema=None) as batch_op:
        batch_op.alter_column('blob_id', existing_type=sa.String(length=36), nullable=False)
        batch_op.drop_column('file_id')
    with op.batch_alter_table('egov_accounts', schema=None) as batch_op:
        batch_op.drop_column('certificate_id')
    op.drop_index('ix_office_certificates_tenant', table_name='office_certificates')
    op.drop_table('office_certificates')
