import base64
import os

from shared.crypto import DataKeys


def spec(*kids: str) -> str:
    return ",".join(f"{k}:{base64.b64encode(os.urandom(32)).decode()}" for k in kids)


def test_fingerprint_key_survives_rotation_and_differs_by_purpose():
    old = DataKeys.parse(spec("k1"))
    rotated = DataKeys(keys=(("k2", os.urandom(32)), *old.keys))  # newest first
    assert rotated.fingerprint_key("efiling.filing") == old.fingerprint_key("efiling.filing")
    assert old.fingerprint_key("efiling.filing") != old.fingerprint_key("koyo_hoken.idempotency")
    assert len(old.fingerprint_key("x")) == 32
