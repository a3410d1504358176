"""Return before deletion (返却, issue 24.5): one service's share of a whole-tenant export.

Every service holding tenant data serves `POST <prefix>/internal/tenant-export/{tenant_id}` (system
operators and tenant-less service tokens only) answering a tar with one CSV per table of the tenant
and whatever the service adds of its own (files: the original files; koyo_hoken: the My Numbers,
encrypted to the tenant's key, when asked). `ops.tenant_export` collects every service's tar the way
the contract-end purge reaches every service, writes the manifest and has accounts sign it.

Which rows: exactly what the purge deletes (shared.purge): every table with a `tenant_id` column,
and the tables pointing at those rows by one hop (`user_id`, `session_id`, ...); left out: the
outbox and inbox (transport, not data) and the idempotency keys (a 24-hour replay cache of answers).
Which columns: all but secrets: anything sealed (`*_sealed`, sealed under our data keys and useless
outside), password / TOTP / token / secret hashes, wrapped file keys. My Numbers are sealed too and
so never in a CSV; koyo_hoken adds them as a separate, encrypted file only when the request names a
recipient key.

CSV: UTF-8, header row of column names, RFC 4180 quoting (Python's csv, `\\r\\n` line ends); NULL is
an empty field; dates and times ISO 8601 (times in UTC with offset), booleans `true`/`false`,
JSON columns as compact JSON, binary as base64.

Encryption to the tenant's key (`seal_to`): the tenant gives a PEM public key, X25519 or RSA
(2048 bits or more). A random 256-bit content key encrypts the file with AES-256-GCM; for X25519 it
is derived (HKDF-SHA256) from an ephemeral X25519 exchange with the tenant's key, for RSA it is
wrapped with RSA-OAEP (SHA-256). Only the holder of the private key can open it; we keep nothing
that could (the ephemeral key and the content key are dropped at once). Why these: both are in the
`cryptography` package we already ship (no new dependency), both are what a tenant's IT can make
with the `openssl` CLI (`openssl genpkey -algorithm X25519` / `-algorithm RSA`), and both are
standard hybrid encryption (ECIES-style / RSA-KEM-style) with an authenticated cipher, so a changed
byte is refused rather than decrypted wrongly."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import APIRouter, Body, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import MetaData, Select, Table, or_, select
from sqlalchemy.orm import Session

from shared.auth_deps import OperatorPrincipal
from shared.errors import ProblemError, problem_responses
from shared.purge import id_sources, tenant_tables
from shared.topology import api_prefix

if TYPE_CHECKING:
    from shared.service_app import Runtime

X25519_MAGIC = b"RTX1"  # roumu tenant export, X25519 + HKDF-SHA256 + AES-256-GCM
RSA_MAGIC = b"RTR1"  # roumu tenant export, RSA-OAEP-SHA256 + AES-256-GCM
HKDF_INFO = b"roumu tenant export v1"
SECRET_COLUMN = re.compile(
    r"(_sealed$|password|secret|token|^code_hash$|^access_hash$|^refresh_hash$|_state_hash$|wrapped_key)")
# Transport and the 24-hour replay cache of responses (idempotency keys): not the tenant's data.
INFRA_TABLES = frozenset({"outbox", "inbox", "alembic_version", "idempotency_keys"})


class RecipientError(ValueError):
    pass


@dataclass(frozen=True)
class Recipient:
    """The tenant's public key, as given."""

    key: x25519.X25519PublicKey | rsa.RSAPublicKey

    @classmethod
    def from_pem(cls, pem: str) -> Recipient:
        try:
            key = serialization.load_pem_public_key(pem.encode())
        except (ValueError, TypeError) as exc:
            raise RecipientError("not a PEM public key") from exc
        if isinstance(key, x25519.X25519PublicKey):
            return cls(key)
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 2048:
                raise RecipientError("RSA keys need 2048 bits or more")
            return cls(key)
        raise RecipientError("only X25519 and RSA public keys are accepted")

    @property
    def der(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the key's DER SubjectPublicKeyInfo (`openssl pkey -pubin -outform DER | sha256sum`)."""
        return hashlib.sha256(self.der).hexdigest()

    @property
    def scheme(self) -> str:
        return "X25519-HKDF-SHA256-AES-256-GCM" if isinstance(self.key, x25519.X25519PublicKey) \
            else "RSA-OAEP-SHA256-AES-256-GCM"


def _hkdf(shared: bytes, eph: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=eph + recipient, info=HKDF_INFO).derive(shared)


def _raw(key: x25519.X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def seal_to(recipient: Recipient, plaintext: bytes) -> bytes:
    """X25519: RTX1 ‖ ephemeral public key (32) ‖ nonce (12) ‖ AES-GCM ciphertext+tag.
    RSA: RTR1 ‖ wrapped key length (2, big endian) ‖ RSA-OAEP(SHA-256) wrapped key ‖ nonce (12) ‖
    ciphertext+tag. The header before the nonce is the GCM associated data."""
    nonce = os.urandom(12)
    if isinstance(recipient.key, x25519.X25519PublicKey):
        eph = x25519.X25519PrivateKey.generate()
        eph_raw = _raw(eph.public_key())
        key = _hkdf(eph.exchange(recipient.key), eph_raw, _raw(recipient.key))
        header = X25519_MAGIC + eph_raw
    else:
        key = AESGCM.generate_key(bit_length=256)
        wrapped = recipient.key.encrypt(key, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                          algorithm=hashes.SHA256(), label=None))
        header = RSA_MAGIC + len(wrapped).to_bytes(2, "big") + wrapped
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header)


def open_sealed(private_key: x25519.X25519PrivateKey | rsa.RSAPrivateKey, blob: bytes) -> bytes:
    """The tenant's side of `seal_to` (`python -m ops.tenant_export decrypt`)."""
    if blob[:4] == X25519_MAGIC and isinstance(private_key, x25519.X25519PrivateKey):
        header, rest = blob[:36], blob[36:]
        key = _hkdf(private_key.exchange(x25519.X25519PublicKey.from_public_bytes(blob[4:36])), blob[4:36],
                    _raw(private_key.public_key()))
    elif blob[:4] == RSA_MAGIC and isinstance(private_key, rsa.RSAPrivateKey):
        n = int.from_bytes(blob[4:6], "big")
        header, rest = blob[:6 + n], blob[6 + n:]
        key = private_key.decrypt(blob[6:6 + n], padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                               algorithm=hashes.SHA256(), label=None))
    else:
        raise RecipientError("not sealed to this kind of key")
    return AESGCM(key).decrypt(rest[:12], rest[12:], header)


# ---------------------------------------------------------------------------------------------
# Rows to CSV


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return str(value)


def exported_columns(table: Table) -> list[str]:
    return [c.name for c in table.c if not SECRET_COLUMN.search(c.name)]


def tenant_selections(metadata: MetaData, tenant_id: str) -> list[tuple[Table, Select[Any]]]:
    """The tenant's rows, table by table, parents first: the purge's choice (shared.purge)."""
    owners = [t for t in tenant_tables(metadata) if t.name not in INFRA_TABLES]
    sources = id_sources(owners, tenant_id)
    owner_names = {t.name for t in owners}
    out: list[tuple[Table, Select[Any]]] = []
    for t in metadata.sorted_tables:
        if t.name in INFRA_TABLES:
            continue
        cols = [t.c[n] for n in exported_columns(t)]
        order = list(t.primary_key.columns)
        if t.name in owner_names:
            out.append((t, select(*cols).where(t.c.tenant_id == tenant_id).order_by(*order)))
        elif t.name == "tenants" and "id" in t.c:
            out.append((t, select(*cols).where(t.c.id == tenant_id)))
        else:
            linked = [n for n in sources if n in t.c]
            if linked:
                out.append((t, select(*cols).where(or_(*(t.c[n].in_(src.scalar_subquery())
                                                         for n in linked for src in sources[n]))).order_by(*order)))
    return out


def table_csv(session: Session, table: Table, query: Select[Any]) -> tuple[bytes, int]:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(exported_columns(table))
    n = 0
    for row in session.execute(query):
        w.writerow([cell(v) for v in row])
        n += 1
    return buf.getvalue().encode("utf-8"), n


# A service's own additions: (session, runtime, tenant id, recipient or None) → extra members.
Extra = Callable[[Session, "Runtime", str, Recipient | None], Iterator[tuple[str, bytes]]]


class ExportRequest(BaseModel):
    """`recipient_public_key`: the tenant's PEM public key (X25519 or RSA ≥ 2048); given, the
    service adds what it keeps only sealed (My Numbers) encrypted to it. Absent: nothing sealed."""

    recipient_public_key: str | None = Field(default=None, max_length=4000)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, 0
    tar.addfile(info, io.BytesIO(data))


def export_router(service: str, metadata: MetaData, extra: Extra | None = None) -> APIRouter:
    router = APIRouter(prefix=api_prefix(service), tags=[service])

    @router.post("/internal/tenant-export/{tenant_id}", responses={
        200: {"content": {"application/x-tar": {}}, "description": "the tenant's rows as CSV (tar)"},
        **problem_responses(400, 401, 403)}, response_class=StreamingResponse)
    def tenant_export(tenant_id: str, _: OperatorPrincipal, request: Request,
                      body: Annotated[ExportRequest, Body()]) -> StreamingResponse:
        """The tenant's share of this service for its return before deletion (返却): one CSV per
        table (`<table>.csv`) and the service's own files (`files/…`, `my_numbers.csv.enc`), as a
        tar. Operators only (ops.tenant_export calls it); nothing is written."""
        rt: Runtime = request.app.state.runtime
        recipient = None
        if body.recipient_public_key is not None:
            try:
                recipient = Recipient.from_pem(body.recipient_public_key)
            except RecipientError as exc:
                raise ProblemError(400, "invalid-recipient-key", "返却データの暗号化に使う公開鍵が正しくありません",
                                   str(exc)) from None
        spool = tempfile.TemporaryFile()  # closed by the response (stream)
        counts: dict[str, int] = {}
        with tarfile.open(fileobj=spool, mode="w") as tar, rt.db.sessions() as session:
            for table, query in tenant_selections(metadata, tenant_id):
                data, n = table_csv(session, table, query)
                counts[table.name] = n
                _add(tar, f"{table.name}.csv", data)
            if extra is not None:
                for name, data in extra(session, rt, tenant_id, recipient):
                    _add(tar, name, data)
            _add(tar, "counts.json", json.dumps(counts, sort_keys=True).encode())
        spool.seek(0)

        def stream() -> Iterator[bytes]:
            with spool:
                while chunk := spool.read(1 << 20):
                    yield chunk

        return StreamingResponse(stream(), media_type="application/x-tar")

    return router


def counts_of(members: Mapping[str, bytes]) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads(members["counts.json"]).items()}
