"""Issue 4: the 事業所 master read model (shared.jigyosho_directory), fed by
roumu.accounts.jigyosho.created|updated|closed through the accounts feed: insured persons and 届出 refer only to known, open 事業所.

Revision ID: 0005
Revises: 0004
"""
from shared.jigyosho_directory import create_jigyosho_directory_table, drop_jigyosho_directory_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_jigyosho_directory_table()


def downgrade() -> None:
    drop_jigyosho_directory_table()
