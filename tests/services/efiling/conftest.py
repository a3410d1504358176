"""One e-Gov sandbox server per session (a real HTTP server), reset before each test that uses it;
one files service server per session, where efiling stores the 公文書 it downloads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.efiling.documents import FilesStore
from shared.settings import CommonSettings
from tests.services.egov_support import FilesServer, SandboxServer


@pytest.fixture(scope="session")
def sandbox_server(settings: CommonSettings) -> Iterator[SandboxServer]:
    server = SandboxServer(settings).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture(scope="session")
def files_server(settings: CommonSettings) -> Iterator[FilesServer]:
    server = FilesServer(settings).start()
    yield server
    server.stop()


@pytest.fixture
def files_store(files_server: FilesServer, settings: CommonSettings) -> Iterator[FilesStore]:
    store = FilesStore(files_server.url, settings.keys_dir)
    yield store
    store.close()
