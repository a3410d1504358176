"""Key hierarchy of stored files:

    service data keys (shared.crypto, ROUMU_DATA_KEYS, rotatable)
      └─ seal the tenant key (tenant_keys row, aad = tenant id)
           └─ wraps each file's data key (files.wrapped_key, aad = tenant id + file id)
                └─ seals the file's segments (segments.py)

A rotation of the service keys re-seals tenant keys as they are used; nothing else changes.
Deleting a file deletes its wrapped key; the tenant purge deletes the tenant key, which makes
every copy of the tenant's files (in backups too) unreadable."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.files.models import TenantKey
from shared.crypto import CryptoError, DataKeys

_WRAP_VERSION = "w1"


def _tenant_aad(tenant_id: str) -> bytes:
    return f"roumu-files-tenant-key:{tenant_id}".encode()


def _file_aad(tenant_id: str, file_id: str) -> bytes:
    return f"roumu-files-file-key:{tenant_id}:{file_id}".encode()


def content_aad(tenant_id: str, file_id: str) -> bytes:
    """Bound into every sealed segment: a sealed file copied under another id does not open."""
    return f"roumu-files-content:{tenant_id}:{file_id}".encode()


def tenant_key(session: Session, data_keys: DataKeys, tenant_id: str, now: datetime, *,
               create: bool = True) -> bytes | None:
    """The tenant's key (created on first use when `create`); re-sealed under the newest
    service key after a rotation."""
    row = session.get(TenantKey, tenant_id)
    if row is None:
        if not create:
            return None
        key = secrets.token_bytes(32)
        try:
            with session.begin_nested():
                session.add(TenantKey(tenant_id=tenant_id, sealed_key=data_keys.seal(key, _tenant_aad(tenant_id)),
                                      created_at=now))
            return key
        except IntegrityError:  # another upload created it first: use that one
            row = session.get(TenantKey, tenant_id)
            if row is None:
                raise
    key = data_keys.open(row.sealed_key, _tenant_aad(tenant_id))
    if data_keys.needs_reseal(row.sealed_key):
        row.sealed_key = data_keys.seal(key, _tenant_aad(tenant_id))
    return key


def wrap_file_key(tkey: bytes, file_key: bytes, tenant_id: str, file_id: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(tkey).encrypt(nonce, file_key, _file_aad(tenant_id, file_id))
    return f"{_WRAP_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unwrap_file_key(tkey: bytes, wrapped: str, tenant_id: str, file_id: str) -> bytes:
    version, _, body = wrapped.partition(":")
    if version != _WRAP_VERSION:
        raise CryptoError("unknown wrapping")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    try:
        return AESGCM(tkey).decrypt(raw[:12], raw[12:], _file_aad(tenant_id, file_id))
    except InvalidTag as exc:
        raise CryptoError("file key does not unwrap") from exc
