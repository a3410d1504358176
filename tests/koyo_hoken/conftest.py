"""koyo_hoken API tests use the service fixtures (grants in the permission read model)."""

from tests.services.conftest import grants, tokens  # noqa: F401 - fixtures shared with the service tests
