"""One holder per tenant of each 被保険者番号, in the database (issues 27, 29 item 4).

`hihokensha_key` is the number's identity (office + serial, 10 digits: a legacy 4-6 number is the
same number as its 4-6-1 form); `hihokensha_claim` repeats it where the person holds the tenant's
claim, and a unique index per tenant allows one holder.

Existing duplicates (stored before the index, by the races the issues describe) are kept, not
refused: the person registered first (created_at, then id) holds the claim, the others keep their
number unclaimed, which is the state a number entered by a user who cannot see its holder has too
(docs/koyo_hoken.md). The migration logs how many there were, so an operator can review them.

Revision ID: 0007
Revises: 0006
"""
import logging
import re
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _key(number: str) -> str | None:
    """The stored value is the formatted 4-6-1 or 4-6 number (schemas._bango); its first 10 digits."""
    digits = re.sub(r"\D", "", number)
    return digits[:10] if len(digits) in (10, 11) else None


def _rows(conn: sa.Connection) -> Iterator[sa.Row[tuple[str, str, str]]]:
    yield from conn.execute(sa.text(
        "SELECT id, tenant_id, hihokensha_bango FROM insured_persons WHERE hihokensha_bango IS NOT NULL "
        "ORDER BY tenant_id, created_at, id"))


def upgrade() -> None:
    with op.batch_alter_table("insured_persons") as batch:
        batch.add_column(sa.Column("hihokensha_key", sa.String(10), nullable=True))
        batch.add_column(sa.Column("hihokensha_claim", sa.String(10), nullable=True))
    conn = op.get_bind()
    held: set[tuple[str, str]] = set()
    duplicates = 0
    update = sa.text("UPDATE insured_persons SET hihokensha_key = :key, hihokensha_claim = :claim WHERE id = :id")
    for person_id, tenant_id, number in list(_rows(conn)):
        key = _key(number)
        if key is None:
            continue
        first = (tenant_id, key) not in held
        held.add((tenant_id, key))
        duplicates += not first
        conn.execute(update, {"key": key, "claim": key if first else None, "id": person_id})
    if duplicates:
        log.warning("koyo_hoken 0007: %d insured persons share a 被保険者番号 with an earlier one; "
                    "kept, the earliest holds the number (docs/koyo_hoken.md)", duplicates)
    op.create_index("uq_insured_persons_tenant_hihokensha_claim", "insured_persons",
                    ["tenant_id", "hihokensha_claim"], unique=True)
    op.create_index("ix_insured_persons_tenant_hihokensha_key", "insured_persons", ["tenant_id", "hihokensha_key"])


def downgrade() -> None:
    op.drop_index("ix_insured_persons_tenant_hihokensha_key", "insured_persons")
    op.drop_index("uq_insured_persons_tenant_hihokensha_claim", "insured_persons")
    with op.batch_alter_table("insured_persons") as batch:
        batch.drop_column("hihokensha_claim")
        batch.drop_column("hihokensha_key")
