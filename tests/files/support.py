"""Tenants of the files tests: each knows the test 事業所 (the 事業所 master read model,
tests/support/jigyosho.py), as if accounts had published them."""

from __future__ import annotations

import uuid

from tests.support.jigyosho import JigyoshoSeeder

# The 事業所 every tenant() has in the accounts master; other ids are unknown 事業所.
JIGYOSHO = ("J-0001", "J-1", "J-A", "J-B")
SEEDER: list[JigyoshoSeeder] = []  # set by tests/files/conftest.py for the session


def tenant(jigyosho: tuple[str, ...] = JIGYOSHO) -> str:
    """A fresh tenant whose 事業所 `jigyosho` the files service knows."""
    tid = str(uuid.uuid4())
    if jigyosho:
        SEEDER[0].open(tid, *jigyosho, services=("files",))
    return tid
