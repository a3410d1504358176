"""The Ed25519 key that signs checkpoints (shared.keys use `audit`) and the public keys that
verify them, old ones included so old checkpoints keep verifying after a rotation."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit_log.rules import checkpoint
from services.audit_log.rules.checkpoint import CheckpointBody, VerifierKey
from shared.keys import ensure_key, load_signing_keys


class CheckpointSigner:
    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir
        self.key = ensure_key(keys_dir, "audit")
        self._publics: dict[str, Ed25519PublicKey] = {}
        self.reload()

    def reload(self) -> None:
        """Pick up a rotated key: the newest signs, every one verifies."""
        keys = load_signing_keys(self.keys_dir, "audit")
        if keys:
            self.key = keys[-1]
        self._publics = {k.kid: k.private.public_key() for k in keys}

    def sign(self, body: CheckpointBody) -> tuple[str, str]:
        """(kid, signature of the note's signature line)."""
        return self.key.kid, checkpoint.sign(body, self.key.private)

    def verifier_keys(self) -> list[VerifierKey]:
        return [checkpoint.parse_verifier_key(checkpoint.verifier_key(pub)) for pub in self._publics.values()]

    def public(self, kid: str) -> Ed25519PublicKey | None:
        return self._publics.get(kid)

    def published(self) -> dict[str, Any]:
        """What /checkpoint-keys answers: JWKs and C2SP verifier keys."""
        jwks = []
        vkeys = []
        for kid, pub in self._publics.items():
            raw = checkpoint.raw_public(pub)
            jwks.append({"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
                         "kid": kid, "use": "sig", "alg": "EdDSA", "roumu_use": "audit"})
            vkeys.append(checkpoint.verifier_key(pub))
        return {"keys": jwks, "verifier_keys": vkeys, "key_name": checkpoint.KEY_NAME}
