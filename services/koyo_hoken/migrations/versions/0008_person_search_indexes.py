"""Indexes of the console's persons list (issue 21): furigana order and prefix search, name prefix
search. The 被保険者番号 search uses ix_insured_persons_tenant_hihokensha_key (0007).

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_insured_persons_tenant_kana", "insured_persons",
                    ["tenant_id", "jigyosho_id", "family_name_kana", "given_name_kana"])
    op.create_index("ix_insured_persons_tenant_name", "insured_persons", ["tenant_id", "jigyosho_id", "family_name", "given_name"])


def downgrade() -> None:
    op.drop_index("ix_insured_persons_tenant_name", "insured_persons")
    op.drop_index("ix_insured_persons_tenant_kana", "insured_persons")
