"""Password hashing with argon2id (OWASP: m=19 MiB, t=2, p=1 at least).

`verify` always spends one hash's time, also for unknown users (a dummy hash made with the same
parameters), so response timing does not tell whether a login id exists. Hashes made with
other parameters are recognised (`needs_rehash`) and replaced at the next successful login."""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.auth.rules.password_policy import normalize

# OWASP's first row; the floor below which no deployment goes.
MEMORY_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1


@dataclass
class Passwords:
    memory_kib: int = MEMORY_KIB
    time_cost: int = TIME_COST
    parallelism: int = PARALLELISM
    hasher: PasswordHasher = field(init=False)
    _dummy: str = field(init=False)

    def __post_init__(self) -> None:
        self.hasher = PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_kib,
                                     parallelism=self.parallelism, hash_len=32, salt_len=16)
        self._dummy = self.hasher.hash("roumu-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        # NFKC, never truncated: the whole normalised password is hashed.
        return self.hasher.hash(normalize(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash or self._dummy, normalize(password)) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def matches(self, stored_hash: str, normalized_password: str) -> bool:
        """For the history rule: the password is normalised already."""
        try:
            return self.hasher.verify(stored_hash, normalized_password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)


DEFAULT = Passwords()


def hash_password(password: str) -> str:
    return DEFAULT.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    return DEFAULT.verify(stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    return DEFAULT.needs_rehash(stored_hash)
