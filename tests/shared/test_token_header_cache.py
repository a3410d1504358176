"""The token check reads a token's header once per token string (shared.tokens, issue #22): the
same checks hold on every use — a token signed by a key not ours, one with `alg: none`, a malformed
one, an expired one and one for another audience are refused however often they are sent, a valid
one is accepted each time, and an oversized token (not kept) is checked the same way. Tokens made
with pyjwt and keys of our own key store."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.keys import ensure_keys
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER, TokenError, TokenSigner, TokenVerifier

CLAIMS = {"typ": "access", "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER, "sub": "u-1", "kind": "user", "tid": "t-1"}


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    ensure_keys(tmp_path / "keys")
    return tmp_path / "keys"


def _b64(d: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


def test_every_use_of_a_token_is_checked_in_full(keys: Path) -> None:
    signer = TokenSigner(keys, "access")
    verifier = TokenVerifier(keys)
    good = signer.sign(CLAIMS, 600)
    for _ in range(3):
        assert verifier.verify_access(good).subject == "u-1"
        assert verifier.key_use(good) == "access"

    # Same kid as ours, signed by another key: the header is the same as a good token's.
    stranger = jwt.encode({**CLAIMS, "iat": 1, "exp": 2**31}, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                          headers={"kid": signer.key.kid})
    unsigned = f"{_b64({'alg': 'none', 'kid': signer.key.kid})}.{_b64({**CLAIMS, 'iat': 1, 'exp': 2**31})}."
    expired = signer.sign(CLAIMS, -60)
    elsewhere = signer.sign({**CLAIMS, "aud": "another"}, 600)
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for bad in (stranger, unsigned, expired, elsewhere, tampered, "not.a.token", "x" * 5000):
        for _ in range(3):
            with pytest.raises(TokenError):
                verifier.verify_access(bad)
    # A good token long enough not to be kept is checked the same way.
    long = signer.sign({**CLAIMS, "pad": "p" * 5000}, 600)
    assert len(long) > 4096
    for _ in range(2):
        assert verifier.verify_access(long).subject == "u-1"
