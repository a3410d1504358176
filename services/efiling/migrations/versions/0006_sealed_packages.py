"""Packages are sealed at rest (`zip_sealed`; `zip_data` stays for rows written before, in clear,
until the service seals them at start-up: services/efiling/packages.py `seal_legacy`), and a
filing remembers the insured person it is about, so a download showing the My Number is recorded
as a view of that person's number.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('filing_packages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zip_sealed', sa.Text(), nullable=True))
        batch_op.alter_column('zip_data', existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('insured_person_id', sa.String(length=36), nullable=True))


def downgrade() -> None:
    # Sealed rows cannot go back to a NOT NULL clear column without the keys: refuse rather than lose them.
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM filing_packages WHERE zip_data IS NULL")).scalar_one():
        raise RuntimeError("sealed packages exist: downgrade below 0006 would lose them")
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.drop_column('insured_person_id')
    with op.batch_alter_table('filing_packages', schema=None) as batch_op:
        batch_op.alter_column('zip_data', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('zip_sealed')
