"""Contract tests: OpenAPI drift, event schemas, and the end-of-session sweep of published events.

`@pytest.mark.runs_last` moves a test to the end of the whole session, after every other test
has had its chance to publish events (the sweep in test_published_events.py)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [item for item in items if item.get_closest_marker("runs_last")]
    if last:
        items[:] = [item for item in items if not item.get_closest_marker("runs_last")] + last
