"""One e-Gov sandbox server per session (a real HTTP server), reset before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.settings import CommonSettings
from tests.services.egov_support import SandboxServer


@pytest.fixture(scope="session")
def sandbox_server(settings: CommonSettings) -> Iterator[SandboxServer]:
    server = SandboxServer(settings).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    sandbox_server.reset()
    return sandbox_server
