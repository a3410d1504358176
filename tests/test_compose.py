"""docker-compose.yml checked against the services folder and the network rules, without a Docker
engine: every service present and built from the one Dockerfile, only the gateway published, the
dmz holding the gateway alone, healthchecks everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.topology import SERVICES

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = {"dmz", "service", "backup", "management"}
INFRA = {"postgres", "nats", "redis"}


def compose_name(service: str) -> str:
    return service.replace("_", "-")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def service_folders() -> set[str]:
    return {p.name for p in (ROOT / "services").iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def networks_of(svc: dict[str, Any]) -> set[str]:
    nets = svc.get("networks", [])
    return set(nets) if isinstance(nets, list) else set(nets.keys())


def roumu_processes(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names = {compose_name(s.name) for s in SERVICES} | {compose_name(n) for n in service_folders()} | {"gateway"}
    return {n: services[n] for n in names if n in services}


def test_every_service_folder_and_topology_entry_is_in_compose(services):
    expected = {compose_name(n) for n in service_folders()} | {compose_name(s.name) for s in SERVICES}
    missing = expected - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"
    assert {"gateway", "egov-sandbox"} | INFRA <= set(services)


def test_roumu_processes_come_from_the_one_dockerfile_and_the_command_picks(services):
    for name, svc in roumu_processes(services).items():
        assert svc.get("build") in (".", {"context": "."}), name
        assert svc.get("image") == "roumu:latest", name
        assert svc["command"] == [name.replace("-", "_")], name


def test_only_the_gateway_publishes_a_port(services):
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"gateway"}
    assert not any(svc.get("network_mode") == "host" for svc in services.values())


def test_networks_as_stated(compose, services):
    assert set(compose["networks"]) == NETWORKS
    # Everything but the dmz has no route out of the host.
    for net in NETWORKS - {"dmz"}:
        assert (compose["networks"][net] or {}).get("internal") is True, net
    on_dmz = {name for name, svc in services.items() if "dmz" in networks_of(svc)}
    assert on_dmz == {"gateway"}
    for name, svc in services.items():
        assert networks_of(svc), f"{name} is on the default network"
        assert networks_of(svc) <= NETWORKS, name
    for name in roumu_processes(services):
        assert "service" in networks_of(services[name]), name
    assert "backup" in networks_of(services["postgres"])
    assert "management" in networks_of(services["postgres"])


def test_every_long_running_container_has_a_healthcheck(services):
    for name, svc in services.items():
        if svc.get("restart") == "no":  # one-shot jobs
            continue
        check = svc.get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name} has no healthcheck"


def test_services_share_settings_through_the_environment(services):
    for name, svc in roumu_processes(services).items():
        env = svc["environment"]
        assert env["NATS_URL"] == "nats://nats:4222", name
        assert env["ROUMU_DATABASE_URL_TEMPLATE"].startswith("postgresql+psycopg://"), name
        assert "{service}" in env["ROUMU_DATABASE_URL_TEMPLATE"], name
        assert env["ROUMU_BIND_HOST"] == "0.0.0.0", name
        for s in SERVICES:
            assert env[f"ROUMU_{s.name.upper()}_URL"] == f"http://{compose_name(s.name)}:{s.port}", (name, s.name)


def test_jetstream_is_on_and_processes_wait_for_init(services):
    assert "-js" in services["nats"]["command"]
    for name, svc in roumu_processes(services).items():
        assert svc["depends_on"]["init"]["condition"] == "service_completed_successfully", name
    assert services["init"]["command"] == ["init"]


def test_no_secret_has_a_default(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${ROUMU_POSTGRES_PASSWORD:?" in text
    assert "${ROUMU_POSTGRES_PASSWORD:-" not in text
    assert "POSTGRES_HOST_AUTH_METHOD" not in text


def test_backup_job_and_monitor(services):
    backup, monitor = services["backup"], services["monitor"]
    assert backup["command"] == ["schedule"] and "backup" in networks_of(backup)
    assert "service" not in networks_of(backup), "the backup job reaches PostgreSQL on the backup network"
    assert "${ROUMU_BACKUP_KEY:?" in backup["environment"]["ROUMU_BACKUP_KEY"]
    assert backup["environment"]["ROUMU_BACKUP_PRIMARY_DIR"] != backup["environment"]["ROUMU_BACKUP_SECONDARY_DIR"]
    assert "files" in networks_of(services["files"]) or "backup" in networks_of(services["files"])
    assert networks_of(monitor) == {"management"}
    assert monitor["entrypoint"] == ["python", "-m", "ops.monitor"]
    assert "${ROUMU_MONITOR_PASSWORD:?" in monitor["environment"]["ROUMU_MONITOR_PASSWORD"]
