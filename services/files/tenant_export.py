"""files' own part of the tenant export (shared.tenant_export): every stored file's original
content, decrypted, as `files/<file id>/<original name>` (the name made safe for a path: no
separators, no leading dots). files.csv lists them with their SHA-256 as uploaded, which the
content here matches (checked while writing: a mismatch fails the export rather than return a
damaged file)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.files.context import FilesContext
from services.files.models import StoredFile
from services.files.service import file_key, plaintext
from shared.service_app import Runtime
from shared.tenant_export import Recipient

UNSAFE = re.compile(r"[\x00-\x1f/\\]")


def safe_name(name: str) -> str:
    cleaned = UNSAFE.sub("_", name).lstrip(".") or "file"
    return cleaned[:200]


def originals(session: Session, rt: Runtime, tenant_id: str,
              recipient: Recipient | None) -> Iterator[tuple[str, bytes]]:
    ctx: FilesContext = rt.extras["files"]
    rows = session.execute(select(StoredFile).where(StoredFile.tenant_id == tenant_id,
                                                    StoredFile.storage_key.is_not(None))
                           .order_by(StoredFile.id)).scalars().all()
    for f in rows:
        data = b"".join(plaintext(ctx, f, file_key(session, ctx, f)))
        if hashlib.sha256(data).hexdigest() != f.sha256:
            raise RuntimeError(f"stored file {f.id} does not match its checksum")
        yield f"files/{f.id}/{safe_name(f.original_name)}", data
