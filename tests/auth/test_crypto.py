"""shared.crypto: AES-256-GCM with rotatable data keys."""

from __future__ import annotations

import base64
import os

import pytest

from shared.crypto import CryptoError, DataKeys, ensure_data_keys, load_data_keys


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_seal_open_rotation_and_tamper(tmp_path):
    old = DataKeys.parse(f"k1:{key()}")
    sealed = old.seal(b"JBSWY3DPEHPK3PXP", b"user-1")
    assert sealed.startswith("k1:") and b"JBSWY3DPEHPK3PXP" not in sealed.encode()
    assert old.seal(b"x") != old.seal(b"x")  # fresh nonce each time
    rotated = DataKeys.parse(f"k2:{key()},k1:{base64.b64encode(old.keys[0][1]).decode()}")
    assert rotated.open(sealed, b"user-1") == b"JBSWY3DPEHPK3PXP"  # old values still open
    assert rotated.seal(b"y").startswith("k2:") and rotated.needs_reseal(sealed)
    with pytest.raises(CryptoError):
        rotated.open(sealed, b"user-2")  # bound to its row
    kid, body = sealed.split(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 1
    with pytest.raises(CryptoError):
        old.open(f"{kid}:{base64.urlsafe_b64encode(bytes(raw)).decode()}", b"user-1")
    with pytest.raises(CryptoError):
        DataKeys.parse(f"k3:{key()}").open(sealed, b"user-1")
    with pytest.raises(ValueError):
        DataKeys.parse("k1:c2hvcnQ=")


def test_dev_key_file_and_env(tmp_path):
    path = ensure_data_keys(tmp_path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    a = load_data_keys(tmp_path, env="")
    assert load_data_keys(tmp_path, env="").keys == a.keys  # the same file, the same key
    assert load_data_keys(tmp_path, env=f"prod:{key()}").keys[0][0] == "prod"
