"""efiling's own part of the tenant export (shared.tenant_export): every package as it was sent to
e-Gov (apply, amend, withdraw), which the CSVs cannot hold (the ZIP is a sealed column). Each is
`packages/<filing id>/<package id>.zip` with every `個人番号` emptied, as a download without the
unmask grant gets it; when the operator asked for My Numbers with the tenant's public key, the
package as sent is added beside it as `<package id>.zip.enc`, encrypted to that key."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.efiling import context, packages
from services.efiling.models import FilingPackage
from shared.service_app import Runtime
from shared.tenant_export import Recipient, seal_to


def sent_packages(session: Session, rt: Runtime, tenant_id: str,
                  recipient: Recipient | None) -> Iterator[tuple[str, bytes]]:
    keys = context.of(rt).egov.keys
    rows = session.execute(select(FilingPackage).where(FilingPackage.tenant_id == tenant_id)
                           .order_by(FilingPackage.filing_id, FilingPackage.id)).scalars()
    for row in rows:
        data = packages.zip_of(keys, row)
        path = f"packages/{row.filing_id}/{row.id}.zip"
        if not packages.carries_my_number(data):
            yield path, data
            continue
        yield path, packages.blank_my_number(data)
        if recipient is not None:
            yield f"{path}.enc", seal_to(recipient, data)
