"""Issue 4: the 事業所 master read model (shared.jigyosho_directory), fed by
roumu.accounts.jigyosho.created|updated|closed through the accounts feed: members refer only to known, open 事業所.

Revision ID: 0006
Revises: 0005
"""
from shared.jigyosho_directory import create_jigyosho_directory_table, drop_jigyosho_directory_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_jigyosho_directory_table()


def downgrade() -> None:
    drop_jigyosho_directory_table()
