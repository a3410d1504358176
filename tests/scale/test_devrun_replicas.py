"""`make run REPLICAS=N` (ops/devrun.py): the processes it plans, what the gateway is told, and a
clear refusal on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.devrun import DevRun, StartupError
from shared.settings import CommonSettings
from shared.topology import SERVICES


def settings(template: str, tmp_path: Path) -> CommonSettings:
    return CommonSettings(var_dir=tmp_path, keys_dir=tmp_path / "keys", database_url_template=template)


def test_replicas_on_sqlite_are_refused_with_the_reason(tmp_path: Path) -> None:
    run = DevRun(settings("sqlite:///{var_dir}/db/{service}.db", tmp_path), 8000, tmp_path, replicas=2)
    with pytest.raises(StartupError, match="REPLICAS=2 needs PostgreSQL: auth, accounts"):
        run.check_replicas([s.name for s in SERVICES])
    # One process per service is what SQLite is for.
    DevRun(settings("sqlite:///{var_dir}/db/{service}.db", tmp_path), 8000, tmp_path).check_replicas(["auth"])


def test_every_service_but_the_sandbox_runs_n_times_and_the_gateway_gets_every_url(tmp_path: Path) -> None:
    pg = "postgresql+psycopg://u@127.0.0.1:5432/r_{service}"
    run = DevRun(settings(pg, tmp_path), 8000, tmp_path, replicas=3)
    run.check_replicas([s.name for s in SERVICES])
    planned = run.planned_services()
    by_service: dict[str, list[int]] = {}
    for child in planned:
        assert child.port is not None
        by_service.setdefault(child.service, []).append(child.port)
        assert child.own_env == {f"ROUMU_{child.service.upper()}_PORT": str(child.port)}
    assert {name: len(ports) for name, ports in by_service.items()} == {
        s.name: 1 if s.name == "egov_sandbox" else 3 for s in SERVICES}
    ports = [p for ps in by_service.values() for p in ps]
    assert len(set(ports)) == len(ports)

    env = run.child_env("nats://127.0.0.1:4222")
    for name, ports in by_service.items():
        assert env[f"ROUMU_{name.upper()}_URL"] == ",".join(f"http://127.0.0.1:{p}" for p in ports)
    assert env["ROUMU_DB_REPLICAS"] == "3"
