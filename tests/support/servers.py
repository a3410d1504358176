"""Waiting for a server process started by a test or a benchmark."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 60.0, log_hint: str = "") -> None:
    """Until `url` answers 200; fails at once when the process exited. The timeout is a guard
    against a hang, not a timing check."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}{log_hint}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready at {url}")
