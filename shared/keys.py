"""Ed25519 signing keys and the public JWKS file every process verifies tokens with.

Two uses, never mixed: `access` keys sign user and partner tokens (held by auth only);
`internal` keys sign service-to-service tokens (held by the gateway and services). Rotation:
add a key to the folder, the JWKS lists old and new, the newest signs."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

Use = Literal["access", "internal", "certificate", "audit"]
# Token keys, listed in jwks.json. `certificate` keys (accounts' deletion certificates) and `audit`
# keys (audit_log's signed checkpoints) are kept out of it, so no token can ever be verified with
# one; `certificate_jwks` and audit_log's /checkpoint-keys publish them.
USES: tuple[Use, ...] = ("access", "internal")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    use: Use
    private: Ed25519PrivateKey


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def generate_key(keys_dir: Path, use: Use) -> SigningKey:
    keys_dir.mkdir(parents=True, exist_ok=True)
    kid = f"{use}-{int(time.time() * 1000):x}"
    priv = Ed25519PrivateKey.generate()
    path = keys_dir / f"{kid}.pem"
    pem = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    # Written whole under a temporary name, then linked into place (never replacing a key): a
    # process reading the folder meanwhile sees no key or the whole key, never half of one.
    fd, tmp = tempfile.mkstemp(dir=keys_dir, prefix=".key-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.link(tmp, path)
    finally:
        os.unlink(tmp)
    write_jwks(keys_dir)
    return SigningKey(kid, use, priv)


def load_signing_keys(keys_dir: Path, use: Use) -> list[SigningKey]:
    """Private keys of one use, oldest first (the last one signs)."""
    keys = []
    for path in sorted(keys_dir.glob(f"{use}-*.pem")):
        priv = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(priv, Ed25519PrivateKey)
        keys.append(SigningKey(path.stem, use, priv))
    return sorted(keys, key=lambda k: int(k.kid.split("-", 1)[1], 16))


def ensure_keys(keys_dir: Path) -> None:
    """Create one key of each use when none exists (first `make run`, test sessions)."""
    for use in USES:
        ensure_key(keys_dir, use)
    write_jwks(keys_dir)


def write_jwks(keys_dir: Path) -> None:
    keys = []
    for use in USES:
        for k in load_signing_keys(keys_dir, use):
            raw = k.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            keys.append({"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": k.kid, "use": "sig",
                         "alg": "EdDSA", "roumu_use": use})
    text = json.dumps({"keys": keys}, indent=2)
    target = keys_dir / "jwks.json"
    if target.exists() and target.read_text() == text:
        return  # every service calls this at start-up: nothing to rewrite
    # A temporary name of this process's own: several services start at once and each may write.
    fd, tmp = tempfile.mkstemp(dir=keys_dir, prefix=".jwks-", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def load_public_keys(keys_dir: Path) -> dict[str, tuple[Use, Ed25519PublicKey]]:
    data = json.loads((keys_dir / "jwks.json").read_text())
    out: dict[str, tuple[Use, Ed25519PublicKey]] = {}
    for jwk in data["keys"]:
        out[jwk["kid"]] = (jwk["roumu_use"], Ed25519PublicKey.from_public_bytes(_b64d(jwk["x"])))
    return out


def ensure_key(keys_dir: Path, use: Use) -> SigningKey:
    """The newest signing key of one use, created when there is none. Replicas starting together
    on one folder (`make run REPLICAS=2`) take turns (a lock file), so one creates it and the
    others load that one."""
    keys = load_signing_keys(keys_dir, use)
    if keys:
        return keys[-1]
    keys_dir.mkdir(parents=True, exist_ok=True)
    with open(keys_dir / ".keys.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        keys = load_signing_keys(keys_dir, use)
        return keys[-1] if keys else generate_key(keys_dir, use)


def certificate_jwks(keys_dir: Path) -> dict[str, list[dict[str, str]]]:
    """The public half of every `certificate` key (old ones too, so old certificates verify)."""
    keys = []
    for k in load_signing_keys(keys_dir, "certificate"):
        raw = k.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys.append({"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": k.kid, "use": "sig",
                     "alg": "EdDSA", "roumu_use": "certificate"})
    return {"keys": keys}
