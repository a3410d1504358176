"""Service tests: user tokens come with grants in the services' permission read models.

`tokens.user(tenant)` here also seeds that user (default "u-1") with every menu for writing on
every 事業所, as an administrator would grant a trusted staff member; tests of the permission rules
themselves seed narrower grants with the `grants` fixture first (an existing row is kept)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.settings import CommonSettings
from tests.conftest import Tokens
from tests.services.grants import GrantSeeder


@pytest.fixture(scope="session")
def grants(settings: CommonSettings) -> Iterator[GrantSeeder]:
    seeder = GrantSeeder(settings)
    yield seeder
    seeder.close()


class GrantingTokens:
    def __init__(self, tokens: Tokens, grants: GrantSeeder) -> None:
        self._tokens = tokens
        self._grants = grants

    def user(self, tenant_id: str, user_id: str = "u-1", roles: tuple[str, ...] = ("staff",)) -> str:
        self._grants.ensure(tenant_id, user_id)
        return self._tokens.user(tenant_id, user_id, roles)

    def bare_user(self, tenant_id: str, user_id: str = "u-1", roles: tuple[str, ...] = ("staff",)) -> str:
        """A token whose user has no row in any read model."""
        return self._tokens.user(tenant_id, user_id, roles)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokens, name)


@pytest.fixture(scope="session")
def tokens(settings: CommonSettings, grants: GrantSeeder) -> GrantingTokens:
    return GrantingTokens(Tokens(settings.keys_dir), grants)
