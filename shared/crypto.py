"""Secrets at rest: AES-256-GCM under rotatable data keys.

Used for TOTP secrets and CA private keys now, My Number later. A sealed value is
`<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>`: the key id travels with the value, so after a
rotation old values still open with the older key while new ones are sealed with the newest.

Keys come from `ROUMU_DATA_KEYS` (comma list of `kid:base64key`, newest first). Without it (dev,
tests) `ensure_data_keys` keeps one generated key in `<keys_dir>/data-keys.json` (mode 0600).
`aad` binds a ciphertext to its place (e.g. the user id): a value copied onto another row fails
to open instead of decrypting as someone else's secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.private_files import create_once

ENV = "ROUMU_DATA_KEYS"
FILE = "data-keys.json"
_NONCE = 12


class CryptoError(Exception):
    """A sealed value that cannot be opened: unknown key id, malformed, or tampered with."""


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class DataKeys:
    """Data keys, newest first: the first seals, any of them opens."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one data key is needed")
        for kid, key in self.keys:
            if len(key) != 32:
                raise ValueError(f"data key {kid!r} must be 32 bytes (AES-256)")
            if not kid or ":" in kid or "," in kid:
                raise ValueError(f"data key id {kid!r} must be non-empty without ':' or ','")

    @classmethod
    def parse(cls, spec: str) -> DataKeys:
        """`kid:base64key,kid2:base64key2` (standard or url-safe base64)."""
        keys = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kid, sep, b64 = part.partition(":")
            if not sep:
                raise ValueError(f"{ENV}: entry {kid!r} is not kid:base64key")
            keys.append((kid, base64.b64decode(b64.replace("-", "+").replace("_", "/") + "=" * (-len(b64) % 4))))
        return cls(tuple(keys))

    def seal(self, plaintext: bytes, aad: bytes = b"") -> str:
        kid, key = self.keys[0]
        nonce = secrets.token_bytes(_NONCE)
        return f"{kid}:{_b64e(nonce + AESGCM(key).encrypt(nonce, plaintext, aad))}"

    def open(self, sealed: str, aad: bytes = b"") -> bytes:
        kid, sep, body = sealed.partition(":")
        key = dict(self.keys).get(kid)
        if not sep or key is None:
            raise CryptoError("unknown data key")
        try:
            raw = _b64d(body)
            return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad)
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("sealed value does not open") from exc

    def fingerprint_key(self, purpose: str) -> bytes:
        """An HMAC key for fingerprints of values with few possibilities (a body holding a My
        Number): a plain hash of those can be reversed by trying them all. Derived from the oldest
        key, so rotating in a new data key does not change fingerprints already stored."""
        return hmac.new(self.keys[-1][1], f"roumu.fingerprint.{purpose}".encode(), hashlib.sha256).digest()

    def needs_reseal(self, sealed: str) -> bool:
        """True when sealed under an older key (re-seal it on the next write)."""
        return sealed.partition(":")[0] != self.keys[0][0]


def ensure_data_keys(keys_dir: Path) -> Path:
    """The dev/test key file: created with one random key when missing."""
    path = keys_dir / FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"keys": [{"kid": f"dk-{secrets.token_hex(4)}",
                                     "key": base64.b64encode(secrets.token_bytes(32)).decode()}]})
        create_once(path, body.encode())
    return path


def load_data_keys(keys_dir: Path, env: str | None = None) -> DataKeys:
    """ROUMU_DATA_KEYS when set (production: from a secret store); else the dev file."""
    spec = env if env is not None else os.environ.get(ENV)
    if spec:
        return DataKeys.parse(spec)
    data = json.loads(ensure_data_keys(keys_dir).read_text())
    return DataKeys(tuple((k["kid"], base64.b64decode(k["key"])) for k in data["keys"]))
