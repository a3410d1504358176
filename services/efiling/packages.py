"""Packages as kept (filing_packages): sealed at rest, opened for a download, My Number blanked
for a caller who may not see it.

A package is the ZIP exactly as sent to e-Gov, and its 申請書XML holds the `個人番号` of the
person filed for. It is sealed with the data keys (shared.crypto, AES-256-GCM) with an AAD bound
to its row (package id, filing id, tenant), so a sealed value copied onto another row does not
open. Rows written before sealing hold the ZIP in clear in `zip_data` (the marker: `zip_sealed`
is null); `seal_legacy` seals them when the service starts, and `zip_of` reads either form."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from datetime import datetime

from lxml import etree
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.efiling.egov import package as pkg
from services.efiling.models import Filing, FilingPackage
from shared.crypto import DataKeys
from shared.db import Database

MY_NUMBER_ELEMENT = "個人番号"
# Our own packages only (built by egov/package.py), still parsed without entities or network.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def _aad(row: FilingPackage) -> bytes:
    return f"efiling.filing_package:{row.id}:{row.filing_id}:{row.tenant_id}".encode()


def seal_into(keys: DataKeys, row: FilingPackage, data: bytes) -> None:
    row.zip_sealed = keys.seal(data, _aad(row))
    row.zip_data = None


def keep(session: Session, keys: DataKeys, f: Filing, kind: str, built: pkg.Built, at: datetime) -> FilingPackage:
    """Store a package as sent (apply, amend, withdraw), sealed."""
    row = FilingPackage(id=str(uuid.uuid4()), filing_id=f.id, tenant_id=f.tenant_id, kind=kind,
                        file_name=built.file_name, sha256=hashlib.sha256(built.zip_bytes).hexdigest(),
                        signed=built.signed, created_at=at)
    seal_into(keys, row, built.zip_bytes)
    session.add(row)
    return row


def zip_of(keys: DataKeys, row: FilingPackage) -> bytes:
    """The ZIP of a kept package: opened, or a row from before sealing read as it is."""
    if row.zip_sealed is not None:
        return keys.open(row.zip_sealed, _aad(row))
    if row.zip_data is None:
        raise ValueError(f"package {row.id} holds no data")
    return bytes(row.zip_data)


def seal_legacy(db: Database, keys: DataKeys, batch: int = 100) -> int:
    """Seal every package stored in clear (rows from before sealing); returns how many. Each row is
    written only while it is still unsealed (`UPDATE … WHERE zip_sealed IS NULL`), so two replicas
    starting together cannot overwrite each other's work."""
    done = 0
    while True:
        with db.transaction() as session:
            rows = session.execute(select(FilingPackage).where(FilingPackage.zip_sealed.is_(None),
                                                               FilingPackage.zip_data.is_not(None))
                                   .limit(batch)).scalars().all()
            if not rows:
                return done
            for row in rows:
                assert row.zip_data is not None
                sealed = keys.seal(bytes(row.zip_data), _aad(row))
                result = session.execute(
                    update(FilingPackage).where(FilingPackage.id == row.id, FilingPackage.zip_sealed.is_(None))
                    .values(zip_sealed=sealed, zip_data=None).execution_options(synchronize_session=False))
                done += int(result.rowcount)  # type: ignore[attr-defined]
            session.expunge_all()


def _my_number_elements(xml: bytes) -> list[etree._Element]:
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError:
        return []
    return [el for el in root.iter() if isinstance(el.tag, str)
            and etree.QName(el).localname == MY_NUMBER_ELEMENT and (el.text or "").strip()]


def carries_my_number(data: bytes) -> bool:
    """Does any XML file of the ZIP hold a non-empty `個人番号` element?"""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return any(_my_number_elements(zf.read(i)) for i in zf.infolist() if i.filename.lower().endswith(".xml"))


def blank_my_number(data: bytes) -> bytes:
    """The same ZIP with every `個人番号` element emptied (a signature over such a file no longer
    verifies: the copy is for reading, not for sending)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename.lower().endswith(".xml"):
                found = _my_number_elements(content)
                if found:
                    root = found[0].getroottree().getroot()
                    for el in found:
                        el.text = None
                    content = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
            dst.writestr(info, content)
    return out.getvalue()

