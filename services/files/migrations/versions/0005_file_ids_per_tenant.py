"""Issue 10: file ids are unique per tenant, not across tenants. The primary key of `files`
becomes (tenant_id, id): `PUT /files/{id}` with an id another tenant already uses no longer
answers 409 (which told the caller the id exists elsewhere); it is simply another file. Existing
rows are kept as they are (ids were unique overall, so they are unique per tenant too).

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files", recreate="auto") as batch:
        batch.drop_constraint("pk_files", type_="primary")
        batch.create_primary_key("pk_files", ["tenant_id", "id"])


def downgrade() -> None:
    # Only possible while no id is used by two tenants.
    with op.batch_alter_table("files", recreate="auto") as batch:
        batch.drop_constraint("pk_files", type_="primary")
        batch.create_primary_key("pk_files", ["id"])
