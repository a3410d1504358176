"""JSON logs, one object a line, that never carry a secret.

Two guards: keys that name a secret are replaced whole, and any run of 12 digits (the shape of a
My Number) is masked wherever it appears in a message or a value."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from shared.request_context import current_request_id

SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|my_?number|mynumber|individual_?number|totp|otp|authorization|"
    r"cookie|private_?key|recovery_?code)",
    re.IGNORECASE,
)
# Bounded by non-alphanumerics, so ids that merely contain 12 digits (手続ID, 労働保険番号) survive.
_TWELVE_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{4}[- ]?\d{4}[- ]?\d{4}(?![0-9A-Za-z])")
REDACTED = "[REDACTED]"

_STD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    # Keys repeat (every log record, every event of a type): decided once each.
    return SECRET_KEYS.search(key) is not None


def redact(value: Any, key: str | None = None) -> Any:
    """A copy of `value` safe to log."""
    if key is not None and _secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return _TWELVE_DIGITS.sub("************", value)
    if isinstance(value, dict):
        return {k: redact(v, k if isinstance(k, str) else str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        rid = current_request_id()
        if rid:
            out["request_id"] = rid
        for k, v in record.__dict__.items():
            if k not in _STD_ATTRS and not k.startswith("_"):
                out[k] = redact(v, k)
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log prints query strings, which may carry tokens: ours logs requests instead.
    logging.getLogger("uvicorn.access").disabled = True
