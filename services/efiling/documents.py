"""Where 公文書 bytes go: the files service, through its internal route for official documents
(`PUT /api/v1/files/internal/official-documents/{file_id}`, services/files/official.py), with a
service token (issuer `efiling`, audience `files`, the tenant in `tid`) — the same kind of token
koyo_hoken uses to ask efiling for a filing.

The file id is derived from the 公文書's identity (tenant, filing, 通知番号), so a retry after a crash
(stored, not yet recorded) sends the same id, and the files service answers the file it already
holds (200) instead of storing a second copy.

Staff download a 公文書 through efiling's `GET /filings/{id}/documents/{document_id}` (efiling checks
the filing's scope, then reads the file from files with its service token and passes it on) or
straight from the files service with the files menu.

Documents received before this (efiling kept the bytes itself, `document_blobs`) are not moved:
they stay readable from that table (`legacy_blob`), which nothing writes any more."""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx
from sqlalchemy.orm import Session

from services.efiling.models import DocumentBlob
from shared.tokens import TokenSigner, service_token
from shared.topology import api_prefix

SIGNER_TTL_SECONDS = 60.0
_NAMESPACE = uuid.UUID("6b1c1f0e-5d0a-4c43-9d6e-6f6666696369")
# The files service's reference pattern (procedure_id, filing_id query parameters).
_REF = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def official_file_id(tenant_id: str, filing_id: str, notice_sub_id: int) -> str:
    """The files service id of a 公文書: the same for every download of the same document."""
    return str(uuid.uuid5(_NAMESPACE, f"roumu.efiling.official_document:{tenant_id}:{filing_id}:{notice_sub_id}"))


@dataclass(frozen=True)
class OfficialFile:
    tenant_id: str
    file_id: str
    name: str
    data: bytes
    jigyosho_id: str
    filing_id: str
    procedure_id: str | None = None  # the caller's procedure (koyo_hoken / jimukumiai), when known


class StoreError(Exception):
    """The files service did not store (or serve) the document; the poll tries again later."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class DocumentStore(Protocol):
    def put(self, doc: OfficialFile) -> str: ...

    def get(self, tenant_id: str, file_id: str) -> bytes | None: ...


class FilesStore:
    """The files service over HTTP. Thread-safe (the tracking stores documents concurrently)."""

    def __init__(self, base_url: str, keys_dir: Path, http: httpx.Client | None = None,
                 timeout_seconds: float = 30.0) -> None:
        self.base = base_url.rstrip("/") + api_prefix("files")
        self.keys_dir = keys_dir
        self._lock = threading.Lock()
        self._signer_cache: tuple[float, TokenSigner] | None = None
        self.http = http or httpx.Client(timeout=timeout_seconds, trust_env=False)

    def _auth(self, tenant_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {service_token(self._signer(), 'efiling', 'files', tenant_id)}"}

    def _signer(self) -> TokenSigner:
        # The key files are read again after a while, so a rotated internal key is picked up.
        now = time.monotonic()
        with self._lock:
            if self._signer_cache is None or now - self._signer_cache[0] > SIGNER_TTL_SECONDS:
                self._signer_cache = (now, TokenSigner(self.keys_dir, "internal"))
            return self._signer_cache[1]

    def put(self, doc: OfficialFile) -> str:
        params = {"jigyosho_id": doc.jigyosho_id, "filing_id": doc.filing_id}
        if doc.procedure_id and _REF.match(doc.procedure_id):
            params["procedure_id"] = doc.procedure_id
        headers = {**self._auth(doc.tenant_id), "Content-Type": "application/zip",
                   "Content-Disposition": f"attachment; filename*=UTF-8''{quote(doc.name, safe='')}"}
        try:
            r = self.http.put(f"{self.base}/internal/official-documents/{doc.file_id}", content=doc.data,
                              params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise StoreError(f"files: {type(exc).__name__}") from exc
        if r.status_code in (200, 201):
            return doc.file_id
        problem = r.json() if r.headers.get("content-type", "").startswith("application/problem+json") else {}
        raise StoreError(f"files: HTTP {r.status_code} {problem.get('type', '')}".strip(), r.status_code)

    def get(self, tenant_id: str, file_id: str) -> bytes | None:
        try:
            r = self.http.get(f"{self.base}/files/{file_id}/content", headers=self._auth(tenant_id))
        except httpx.HTTPError as exc:
            raise StoreError(f"files: {type(exc).__name__}") from exc
        if r.status_code in (404, 410):
            return None
        if r.status_code != 200:
            raise StoreError(f"files: HTTP {r.status_code}", r.status_code)
        return r.content

    def close(self) -> None:
        self.http.close()


def legacy_blob(session: Session, tenant_id: str, blob_id: str) -> bytes | None:
    """A 公文書 efiling stored itself before the files service took them (read only)."""
    blob = session.get(DocumentBlob, blob_id)
    return blob.data if blob is not None and blob.tenant_id == tenant_id else None
