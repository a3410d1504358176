"""The blocklist of common and breached passwords, shipped offline (NIST: SHALL; ASVS 2.1.7).

Two checks, both local (no password ever leaves the service):
* exact match, case-insensitive, against zxcvbn's 30,000 most common passwords from breach
  corpora, plus a few words of our own context;
* zxcvbn's estimate: a password it cracks in under 10^6 guesses (score 0-1: repeats, sequences,
  keyboard walks, dictionary words with common substitutions) is treated as on the list."""

from __future__ import annotations

import threading
from functools import lru_cache

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

CONTEXT_WORDS = frozenset({"roumu", "roumupassword", "sharoushi", "shaho", "koyohoken", "password"})
MIN_SCORE = 2
# zxcvbn keeps its user-input dictionary in a module global: one evaluation at a time.
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    return frozenset(p.casefold() for p in FREQUENCY_LISTS["passwords"]) | CONTEXT_WORDS


def listed(password: str) -> str | None:
    """"blocklisted" or None: the exact-match half alone, a set lookup. Used at every login to
    notice a password that joined the list since it was set (zxcvbn's estimate can take longer
    than the argon2 hash itself, so it runs only when a password is set)."""
    folded = password.casefold()
    return "blocklisted" if folded in _common() or folded.strip() in _common() else None


def weakness(password: str) -> str | None:
    """"blocklisted", "guessable" or None for an NFKC-normalised password."""
    if listed(password):
        return "blocklisted"
    with _LOCK:
        score = int(zxcvbn(password, max_length=max(72, len(password)))["score"])
    return "guessable" if score < MIN_SCORE else None
