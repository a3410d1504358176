"""koyo_hoken's own part of the tenant export (shared.tenant_export): the My Numbers, only when the
operator asked for them with the tenant's public key, as `my_numbers.csv.enc` — a CSV
(`insured_person_id,my_number`) encrypted to that key. The CSVs never hold one (the sealed column
is left out as every sealed column is)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import InsuredPerson
from services.koyo_hoken.service import my_number_aad
from shared.service_app import Runtime
from shared.tenant_export import Recipient, seal_to


def my_numbers(session: Session, rt: Runtime, tenant_id: str,
               recipient: Recipient | None) -> Iterator[tuple[str, bytes]]:
    if recipient is None:
        return
    ctx: KoyoContext = rt.extras["koyo"]
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["insured_person_id", "my_number"])
    persons = session.execute(select(InsuredPerson).where(InsuredPerson.tenant_id == tenant_id,
                                                          InsuredPerson.my_number_sealed.is_not(None))
                              .order_by(InsuredPerson.id)).scalars()
    for p in persons:
        assert p.my_number_sealed is not None
        w.writerow([p.id, ctx.data_keys.open(p.my_number_sealed, my_number_aad(p.tenant_id, p.id)).decode()])
    yield "my_numbers.csv.enc", seal_to(recipient, buf.getvalue().encode("utf-8"))
