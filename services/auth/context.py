"""What the auth use cases need besides a database session, built once per app.

Injected through `create_app(clock=..., passwords=...)` so tests move time by hand and choose
the hashing cost; production takes the system clock and the OWASP parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from services.auth.passwords import Passwords
from services.auth.rules.lockout import SourceThrottle
from services.auth.rules.sessions import SessionPolicy
from services.auth.settings import AuthSettings
from shared.clock import Clock
from shared.crypto import DataKeys
from shared.keys import generate_key, load_public_keys
from shared.tokens import ACCESS_ISSUER, TokenError, TokenSigner, TokenVerifier

CHALLENGE_AUDIENCE = "roumu-auth-login"


class AccessKeys:
    """The access signing keys, re-read when the key folder changes: after `rotate()` (or a key
    added by an operator) the newest key signs, and every key in jwks.json still verifies."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir
        self._stamp: tuple[str, ...] = ()
        self._signer: TokenSigner | None = None
        self._public: dict[str, Any] = {}

    def _current_stamp(self) -> tuple[str, ...]:
        return tuple(sorted(p.name for p in self.keys_dir.glob("access-*.pem")))

    @property
    def signer(self) -> TokenSigner:
        stamp = self._current_stamp()
        if self._signer is None or stamp != self._stamp:
            self._signer, self._stamp = TokenSigner(self.keys_dir, "access"), stamp
        return self._signer

    def rotate(self) -> str:
        """A new signing key; the old ones stay in the JWKS until removed from the folder."""
        key = generate_key(self.keys_dir, "access")
        return key.kid

    def decode_own(self, token: str, audience: str, typ: str) -> dict[str, Any]:
        """Verify a token auth issued to itself (login challenges)."""
        try:
            kid = str(jwt.get_unverified_header(token).get("kid"))
            if kid not in self._public:
                self._public = load_public_keys(self.keys_dir)
            use, key = self._public[kid]
            if use != "access":
                raise TokenError("unknown key")
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=["EdDSA"], audience=audience,
                                                issuer=ACCESS_ISSUER, options={"require": ["exp", "sub", "typ"]})
        except (jwt.PyJWTError, KeyError) as exc:
            raise TokenError(str(exc)) from exc
        if claims.get("typ") != typ:
            raise TokenError("wrong token type")
        return claims


@dataclass
class AuthContext:
    clock: Clock
    passwords: Passwords
    data_keys: DataKeys
    keys: AccessKeys
    verifier: TokenVerifier
    settings: AuthSettings = field(default_factory=AuthSettings)
    last_purge: datetime | None = None

    @property
    def session_policy(self) -> SessionPolicy:
        return SessionPolicy(idle=timedelta(minutes=self.settings.idle_timeout_minutes),
                             absolute=timedelta(hours=self.settings.absolute_timeout_hours))

    @property
    def throttle(self) -> SourceThrottle:
        return SourceThrottle(limit=self.settings.source_failure_limit,
                              window=timedelta(minutes=self.settings.source_window_minutes))
