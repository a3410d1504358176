"""The console's persons list (issue 21): the furigana order, and the name / furigana search as
indexed prefix ranges — `search_name` and `search_kana` hold the name and the furigana joined
without a space (service.search_keys), filled here for the persons already stored. On PostgreSQL
their indexes use text_pattern_ops, so `LIKE 'x%'` is an index range in any collation. The
被保険者番号 search uses ix_insured_persons_tenant_hihokensha_key (0007).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("insured_persons") as batch:
        batch.add_column(sa.Column("search_name", sa.String(101), nullable=True))
        batch.add_column(sa.Column("search_kana", sa.String(101), nullable=True))
    # Spaces (half- and full-width) are left out of the keys, as service.search_keys does.
    op.execute("UPDATE insured_persons SET "
               "search_name = REPLACE(REPLACE(family_name || given_name, ' ', ''), '\u3000', ''), "
               "search_kana = REPLACE(REPLACE(family_name_kana || given_name_kana, ' ', ''), '\u3000', '')")
    op.create_index("ix_insured_persons_tenant_kana", "insured_persons",
                    ["tenant_id", "jigyosho_id", "family_name_kana", "given_name_kana"])
    op.create_index("ix_insured_persons_search_name", "insured_persons", ["tenant_id", "jigyosho_id", "search_name"],
                    postgresql_ops={"search_name": "text_pattern_ops"})
    op.create_index("ix_insured_persons_search_kana", "insured_persons", ["tenant_id", "jigyosho_id", "search_kana"],
                    postgresql_ops={"search_kana": "text_pattern_ops"})


def downgrade() -> None:
    op.drop_index("ix_insured_persons_search_kana", "insured_persons")
    op.drop_index("ix_insured_persons_search_name", "insured_persons")
    op.drop_index("ix_insured_persons_tenant_kana", "insured_persons")
    with op.batch_alter_table("insured_persons") as batch:
        batch.drop_column("search_kana")
        batch.drop_column("search_name")
