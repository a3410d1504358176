"""Fixtures every test shares: a real nats-server, real databases, keys, settings, clients."""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from nats.js.errors import NotFoundError

from ops.migrate import migrate
from shared.keys import ensure_keys
from shared.nats_auth import ADMIN, ensure_nats_credentials, write_server_config
from shared.nats_client import NatsAccess, connect
from shared.settings import CommonSettings
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER, TokenSigner, service_token
from tests.support import egov_spec
from tests.support.databases import TestDatabases
from tests.support.nats_server import NatsServer
from tests.support.processes import fetch_children


class ExternalNats:
    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("roumu")


@pytest.fixture(scope="session")
def session_keys(session_tmp: Path) -> Path:
    """Signing keys and NATS passwords: every service's, and `admin` for the tests' own looks."""
    keys = session_tmp / "keys"
    ensure_keys(keys)
    ensure_nats_credentials(keys, admin=True)
    return keys


@pytest.fixture(scope="session")
def nats(session_tmp: Path, session_keys: Path) -> Iterator[NatsServer | ExternalNats]:
    """NATS_URL when set (CI may use the machine's server, without authorization); otherwise one
    from the wheel, with make run's users and permissions (shared/nats_auth.py) plus `admin`."""
    url = os.environ.get("NATS_URL")
    if url:
        yield ExternalNats(url)
        return
    config = write_server_config(session_keys, TEST_STREAM, admin=True, path=session_tmp / "nats-server.conf")
    server = NatsServer(session_tmp / "nats", config=config)
    server.start()
    yield server
    server.stop()
    # Every service of every test stayed within its NATS permissions (a consumer or subject missing
    # from shared/nats_auth.py would otherwise show only as events that never arrive).
    log = (session_tmp / "nats" / "server.log").read_text(errors="replace")
    refused = [line for line in log.splitlines() if "Publish Violation" in line or "Subscription Violation" in line]
    assert not refused, "NATS refused a process of the tests:\n" + "\n".join(refused[:20])


@pytest.fixture(scope="session")
def test_dbs(session_tmp: Path) -> Iterator[TestDatabases]:
    dbs = TestDatabases(session_tmp)
    if dbs.is_postgres:
        dbs.create_all()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def settings(session_tmp: Path, session_keys: Path, nats: NatsServer | ExternalNats,
             test_dbs: TestDatabases) -> CommonSettings:
    s = CommonSettings(
        var_dir=session_tmp, keys_dir=session_keys, nats_url=nats.url, database_url_template=test_dbs.template(),
        nats_stream=TEST_STREAM, relay_interval_seconds=0.05, log_level="WARNING",
    )
    if isinstance(nats, ExternalNats):
        # One stream may claim roumu.> on a server: start from a clean test stream.
        asyncio.run(_delete_stream(s.nats_access(ADMIN), TEST_STREAM))
    migrate(settings=s)
    return s


TEST_STREAM = "ROUMU_TEST"


async def _delete_stream(access: NatsAccess, name: str) -> None:
    nc = await connect(access, "tests-cleanup", max_reconnect_attempts=0)
    try:
        await nc.jetstream().delete_stream(name)
    except NotFoundError:
        pass
    finally:
        await nc.close()


class Tokens:
    def __init__(self, keys_dir: Path) -> None:
        self.access = TokenSigner(keys_dir, "access")
        self.internal = TokenSigner(keys_dir, "internal")

    def user(self, tenant_id: str, user_id: str = "u-1", roles: tuple[str, ...] = ("staff",)) -> str:
        return self.access.sign({"sub": user_id, "tid": tenant_id, "typ": "access", "kind": "user",
                                 "roles": list(roles), "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, 300)

    def operator(self, operator_id: str = "op-1") -> str:
        return self.access.sign({"sub": operator_id, "typ": "access", "kind": "operator", "roles": ["operator"],
                                 "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, 300)

    def service(self, caller: str, callee: str, tenant_id: str | None = None) -> str:
        return service_token(self.internal, caller, callee, tenant_id)


@pytest.fixture(scope="session")
def tokens(settings: CommonSettings) -> Tokens:
    return Tokens(settings.keys_dir)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_app(name: str, settings: CommonSettings, **kwargs: Any) -> FastAPI:
    module = importlib.import_module(f"services.{name}.app")
    app: FastAPI = module.create_app(settings=settings, **kwargs)
    if name == "egov_sandbox":
        app.add_middleware(egov_spec.SpecCheck)  # the sandbox answers as e-Gov's published spec says
    return app


@pytest.fixture(autouse=True)
def egov_spec_conformance() -> Iterator[None]:
    """Fails the test during which the sandbox answered, or our e-Gov client asked, outside e-Gov's
    published OpenAPI v2 document (tests/support/egov_spec.py)."""
    before = len(egov_spec.STATS.violations)
    yield
    new = egov_spec.STATS.violations[before:]
    if new:
        pytest.fail("e-Gov spec violations:\n" + "\n".join(new[:20]), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    s = egov_spec.STATS
    if s.responses or s.requests:
        terminalreporter.write_line(
            f"e-Gov spec: {s.responses} sandbox responses and {s.requests} client requests validated, "
            f"{len(s.violations)} violations")


@pytest.fixture(scope="module", autouse=True)
def no_fetch_process_left_behind() -> Iterator[None]:
    """A batch consumer's fetch process (shared/fetch_process.py) ends with its consumer. One still
    alive after a module's apps stopped would take deliveries that nobody acks (CI once saw a test
    wait in vain for events such a leftover had taken, and leftovers reconnecting for minutes)."""
    yield
    left = fetch_children()
    assert not left, f"fetch processes outlived their consumers: {left}"


@pytest.fixture
def service_client(settings: CommonSettings) -> Iterator[Callable[..., TestClient]]:
    """service_client("accounts") → a TestClient with the app's lifespan (relay, consumers) running."""
    opened: list[TestClient] = []

    def open_client(name: str, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(name, settings, **kwargs), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield open_client
    for c in opened:
        c.__exit__(None, None, None)
