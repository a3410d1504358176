"""Secret files created once by whichever process comes first (make run starts every service at once)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_once(path: Path, data: bytes) -> bool:
    """Write `data` to `path` (mode 0600) unless it exists; True when this call created it.

    Written whole under a private name, then linked into place: a process starting beside this one
    sees no file or the whole file, never an empty or half-written one (an empty data-key file failed
    efiling's start; an empty NATS password made a service's connection an Authorization Violation)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:  # another process won the race: theirs stands
        return False
    finally:
        tmp.unlink()
