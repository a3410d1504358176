"""Gateway fixtures: the gateway and its upstreams run for real, on loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.settings import CommonSettings
from shared.tokens import TokenVerifier
from shared.topology import ROUTED
from tests.gateway.support import Contract, Echo, ServerThread
from tests.support.nats_server import free_port

SERVICE_NAMES = sorted(info.name for info in ROUTED.values())


@pytest.fixture
def down_url() -> str:
    """A loopback port nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def echo() -> Iterator[tuple[Echo, str]]:
    app = Echo()
    server = ServerThread(app, http="httptools").start()
    yield app, server.url
    app.release.set()  # let any stalled handler finish so the server can stop
    server.stop()


@pytest.fixture(scope="module")
def accounts_url(settings: CommonSettings) -> Iterator[str]:
    """The real accounts service (its relay on the test NATS, its test database)."""
    from services.accounts.app import create_app as create_accounts

    server = ServerThread(create_accounts(settings=settings), http="httptools").start()
    yield server.url
    server.stop()


@pytest.fixture
def start_gateway(settings: CommonSettings, down_url: str) -> Iterator[Callable[..., str]]:
    """start_gateway({"accounts": url}, read_timeout=…) → the gateway's base URL.

    Services not named point at a dead port, so a stray local service never answers a test."""
    servers: list[ServerThread] = []

    def start(upstreams: dict[str, str] | None = None, **gw: Any) -> str:
        urls = dict.fromkeys(SERVICE_NAMES, down_url) | (upstreams or {})
        app = create_app(settings, GatewaySettings(**gw), urls)
        server = ServerThread(app).start()
        servers.append(server)
        return server.url

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def contract(settings: CommonSettings) -> Iterator[tuple[Contract, str]]:
    """Echo plus the accounts/auth endpoints the gateway asks (tenant settings, device CAs, JWKS)."""
    app = Contract(TokenVerifier(settings.keys_dir))
    server = ServerThread(app, http="httptools").start()
    yield app, server.url
    app.release.set()
    server.stop()


@pytest.fixture
def start_gateway_app(settings: CommonSettings, down_url: str) -> Iterator[Callable[..., tuple[str, Any]]]:
    """Like start_gateway, but also answers the app (to read its state) and takes `ssl=True` for an
    https:// base URL (the gateway's TLS context comes from its settings)."""
    servers: list[ServerThread] = []

    def start(upstreams: dict[str, str] | None = None, **gw: Any) -> tuple[str, Any]:
        urls = dict.fromkeys(SERVICE_NAMES, down_url) | (upstreams or {})
        app = create_app(settings, GatewaySettings(**gw), urls)
        server = ServerThread(app).start()
        servers.append(server)
        scheme = "https" if app.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{server.port}", app

    yield start
    for s in servers:
        s.stop()
