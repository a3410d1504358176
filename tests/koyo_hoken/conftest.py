"""koyo_hoken API tests use the service fixtures (grants in the permission read model) and the
事業所 master read model (tests/support/jigyosho.py)."""

from collections.abc import Iterator

import pytest

from tests.koyo_hoken import support
from tests.services.conftest import grants, tokens  # noqa: F401 - fixtures shared with the service tests
from tests.support.jigyosho import JigyoshoSeeder, jigyosho  # noqa: F401 - the seeder fixture


@pytest.fixture(autouse=True)
def _known_jigyosho(jigyosho: JigyoshoSeeder) -> Iterator[None]:  # noqa: F811
    """support.tenant() opens its 事業所 through the session's seeder."""
    support.SEEDER[:] = [jigyosho]
    yield
