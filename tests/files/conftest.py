"""Files fixtures: grant-seeding tokens (as in tests/services) and a real clamd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.files.clamd import ClamdServer, clamd_binary
from tests.services.conftest import grants, tokens  # noqa: F401 - fixtures shared with tests/services


@pytest.fixture(scope="session")
def clamd(session_tmp: Path) -> Iterator[ClamdServer]:
    binary = clamd_binary()
    if binary is None:
        pytest.skip("clamd is not installed (Debian: apt-get install -y clamav-daemon); virus-scan tests skipped")
    server = ClamdServer(session_tmp / "clamd").start(binary)
    yield server
    server.stop()
