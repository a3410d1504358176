"""shakai_hoken API tests use the service fixtures (grants in the permission read model), the 事業所
master read model (tests/support/jigyosho.py) and koyo_hoken's person events applied to shakai_hoken's
person read model through the same handler its consumer runs (support.PersonSeeder)."""

from collections.abc import Iterator

import pytest

from shared.settings import CommonSettings
from tests.services.conftest import grants, tokens  # noqa: F401 - fixtures shared with the service tests
from tests.shakai_hoken import support
from tests.support.jigyosho import JigyoshoSeeder, jigyosho  # noqa: F401 - the seeder fixture


@pytest.fixture(scope="session")
def persons(settings: CommonSettings) -> Iterator[support.PersonSeeder]:
    seeder = support.PersonSeeder(settings)
    yield seeder
    seeder.dispose()
