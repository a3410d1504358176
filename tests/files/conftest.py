"""Files fixtures: grant-seeding tokens (as in tests/services), a real clamd and a real
S3-compatible server (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.files import support
from tests.files.clamd import ClamdServer, clamd_binary
from tests.files.s3server import MotoServer, moto_available
from tests.services.conftest import grants, tokens  # noqa: F401 - fixtures shared with tests/services
from tests.support.jigyosho import JigyoshoSeeder, jigyosho  # noqa: F401 - the 事業所 master seeder fixture


@pytest.fixture(autouse=True)
def _known_jigyosho(jigyosho: JigyoshoSeeder) -> Iterator[None]:  # noqa: F811
    """support.tenant() opens its 事業所 through the session's seeder."""
    support.SEEDER[:] = [jigyosho]
    yield


@pytest.fixture(scope="session")
def clamd(session_tmp: Path) -> Iterator[ClamdServer]:
    binary = clamd_binary()
    if binary is None:
        pytest.skip("clamd is not installed (Debian: apt-get install -y clamav-daemon); virus-scan tests skipped")
    server = ClamdServer(session_tmp / "clamd").start(binary)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_s3(session_tmp: Path) -> Iterator[MotoServer]:
    """moto's S3 server as its own process on 127.0.0.1, signatures checked (s3server.py)."""
    if not moto_available():
        pytest.skip("moto is not installed (pip install -e '.[dev]' brings moto[server]); S3 store tests skipped")
    server = MotoServer(session_tmp / "moto").start()
    yield server
    server.stop()
