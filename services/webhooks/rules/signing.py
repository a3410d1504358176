"""Webhook signatures (pure): HMAC-SHA256 over `<timestamp>.<body>`.

Headers of every delivery:

* `Roumu-Webhook-Timestamp`: Unix seconds when this attempt was signed;
* `Roumu-Webhook-Signature`: `v1=<hex>`, one per valid secret (two during a rotation's overlap),
  comma-separated; a receiver accepts the delivery when any of them matches its secret;
* `Roumu-Webhook-Id`: the event id (the same on every retry and redelivery: deduplicate on it).

A receiver refuses a timestamp more than `REPLAY_WINDOW_SECONDS` from its own clock, then compares
in constant time. docs/partner-example.py has the same verifier for partners."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

SCHEME = "v1"
REPLAY_WINDOW_SECONDS = 300
TIMESTAMP_HEADER = "Roumu-Webhook-Timestamp"
SIGNATURE_HEADER = "Roumu-Webhook-Signature"
ID_HEADER = "Roumu-Webhook-Id"
TYPE_HEADER = "Roumu-Webhook-Type"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    return ", ".join(signature(s, timestamp, body) for s in secrets)


def verify(secret: str, header: str, timestamp: str, body: bytes, now: float,
           window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """What a receiver does: timestamp within the window, then any `v1=` signature matching."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > window:
        return False
    expected = signature(secret, ts, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))
