"""Every write route (POST/PUT/PATCH/DELETE) of every service is either covered by a named
concurrency case or consciously excluded with a reason (tests/concurrency/exclusions.py), like the
isolation sweep's table: a new route fails this test until someone classifies it.

Cases declare what they cover with `@covers("POST /api/v1/…")` on the test function or a
module-level `COVERS = ["POST /api/v1/…", …]`; this test imports every tests/concurrency/test_*
module and collects both. Routes come from the apps themselves (their OpenAPI), not the committed
contracts, so a route added without regenerating contracts/ is listed too."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict
from types import ModuleType

import pytest

import tests.concurrency as package
from shared.settings import CommonSettings
from shared.topology import SERVICES
from tests.concurrency.exclusions import EXCLUDED
from tests.conftest import create_app

WRITES = ("post", "put", "patch", "delete")


def write_routes(settings: CommonSettings) -> dict[str, str]:
    """"METHOD /path" → service, for every write operation of every service app."""
    out: dict[str, str] = {}
    for s in SERVICES:
        app = create_app(s.name, settings, background=False)
        for path, ops in app.openapi()["paths"].items():
            for method in ops:
                if method in WRITES:
                    out[f"{method.upper()} {path}"] = s.name
    return out


def case_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{package.__name__}.{m.name}")
            for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("test_")]


def covered_routes() -> dict[str, list[str]]:
    """Route → the cases ("module::function") that declare they cover it."""
    out: dict[str, list[str]] = defaultdict(list)
    for module in case_modules():
        short = module.__name__.rsplit(".", 1)[-1]
        for route in getattr(module, "COVERS", ()):
            out[route].append(f"{short} (COVERS)")
        for name, obj in vars(module).items():
            if not inspect.isfunction(obj):  # e.g. sqlalchemy's `func` answers any attribute
                continue
            for route in getattr(obj, "concurrency_covers", ()):
                out[route].append(f"{short}::{name}")
    return out


@pytest.fixture(scope="module")
def routes(settings: CommonSettings) -> dict[str, str]:
    return write_routes(settings)


def test_every_write_route_is_raced_or_excluded_with_a_reason(routes: dict[str, str]) -> None:
    covered = covered_routes()
    missing = sorted(r for r in routes if r not in covered and r not in EXCLUDED)
    assert not missing, ("write routes neither covered by a concurrency case (@covers / COVERS in "
                         "tests/concurrency/test_*.py) nor listed in tests/concurrency/exclusions.py:\n"
                         + "\n".join(f"  {routes[r]}: {r}" for r in missing))


def test_a_covered_route_is_not_also_excluded(routes: dict[str, str]) -> None:
    both = sorted(r for r in covered_routes() if r in EXCLUDED)
    assert not both, ("covered by a case and still excluded (remove them from exclusions.py):\n"
                      + "\n".join(f"  {r} ← {', '.join(covered_routes()[r])}" for r in both))


def test_every_listed_route_exists(routes: dict[str, str]) -> None:
    stale = sorted(set(EXCLUDED) - set(routes))
    unknown = sorted(set(covered_routes()) - set(routes))
    assert not stale, f"exclusions.py lists routes no service has: {stale}"
    assert not unknown, f"cases declare routes no service has: {unknown}"
    assert all(reason.strip() and "\n" not in reason for reason in EXCLUDED.values())
