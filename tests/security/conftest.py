"""Fixtures of the security suite and the figures it prints at the end of a run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.settings import CommonSettings
from tests.conftest import Tokens
from tests.security.common import FIGURES, MODE, NOTICES, services_with_contract
from tests.security.world import World, build_world, close_clients, open_clients
from tests.services.grants import GrantSeeder

# The e-Gov sandbox stands in for an outside system (no tenants, no tokens): fuzzed, never swept.
TENANT_SERVICES = [s for s in services_with_contract() if s != "egov_sandbox"]


@pytest.fixture(scope="session")
def sec_grants(settings: CommonSettings) -> Iterator[GrantSeeder]:
    seeder = GrantSeeder(settings)
    yield seeder
    seeder.close()


@pytest.fixture(scope="module")
def world(settings: CommonSettings, tokens: Tokens, sec_grants: GrantSeeder) -> Iterator[World]:
    """Every tenant service in-process without relay or consumers (nothing changes a database
    but the requests themselves), seeded with tenant A's resources."""
    clients = open_clients(settings, TENANT_SERVICES)
    try:
        yield build_world(settings, tokens, sec_grants, clients)
    finally:
        close_clients(clients)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES and not NOTICES:
        return
    terminalreporter.section(f"security suite figures (mode: {MODE})")
    for key in sorted(FIGURES):
        terminalreporter.write_line(f"{key}: {FIGURES[key]}")
    for line in dict.fromkeys(NOTICES):
        terminalreporter.write_line(f"notice: {line}")
