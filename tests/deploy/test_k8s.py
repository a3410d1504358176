"""deploy/k8s checked without a cluster: rendered by `kubectl kustomize` (kustomize built into the
machine's kubectl), every built-in object validated against the Kubernetes schemas of
kubernetes-validate (offline, strict: unknown fields refused), and held to the rules of
docs/operations.md "Kubernetes" as tests/test_compose.py holds docker-compose.yml: every service in
services/ and the gateway with its Deployment, Service, probes, requests, PDB, NetworkPolicy and
migration Job; the segments as in compose; Secrets referenced, never embedded."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

from ops import k8s
from shared.topology import GATEWAY_PORT, SERVICES
from tests.support.nats_cluster import SYNC_INTERVAL
from tests.test_compose import networks_of, service_folders

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# Schemas of the newest release kubernetes-validate ships, and of an older one still in support.
VERSIONS = ("1.37.0", "1.31.0")
SECRETS = {"roumu-database", "roumu-keys", "roumu-nats-credentials", "roumu-backup"}
CRDS = {"Cluster", "Database"}  # CloudNativePG's: checked by hand below


@cache
def rendered(target: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is missing: CI renders deploy/k8s with `kubectl kustomize`")
        pytest.skip("kubectl not installed: cannot render deploy/k8s (CI has it)")
    out = subprocess.run([kubectl, "kustomize", str(K8S / target)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def processes() -> dict[str, int]:
    """k8s name → port of every service folder, topology entry and the gateway."""
    ports = {s.name: s.port for s in SERVICES}
    names = service_folders() | set(ports)
    return {k8s.k8s_name(n): ports.get(n, 0) for n in names} | {"gateway": GATEWAY_PORT}


def test_the_generated_manifests_are_up_to_date() -> None:
    assert k8s.main(["--check"]) == 0, "run python -m ops.k8s and commit deploy/k8s/base/processes"


# Production is the base with its patches and the HPAs: each object of either is checked once by
# one of the two releases (validating is slow: tens of seconds each).
@pytest.mark.parametrize(("target", "version"), [("overlays/production", VERSIONS[0]), ("base", VERSIONS[1])])
def test_every_object_is_valid_against_the_kubernetes_schemas(target: str, version: str) -> None:
    docs = rendered(target)
    checked, invalid = 0, []
    for doc in docs:
        if doc["kind"] in CRDS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
            checked += 1
        except (ValidationError, SchemaNotFoundError) as exc:
            invalid.append(f"{doc['kind']}/{doc['metadata']['name']}: {getattr(exc, 'message', exc)}")
    assert not invalid, invalid
    assert checked > 50


def test_the_validator_refuses_a_broken_object() -> None:
    """The check above can fail: a misspelt field and a wrong type are caught."""
    deployment = copy.deepcopy(of_kind(rendered("base"), "Deployment")["accounts"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)
    deployment = copy.deepcopy(of_kind(rendered("base"), "Deployment")["accounts"])
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)


@pytest.mark.parametrize("target", ["base", "overlays/production"])
def test_every_process_has_its_deployment_service_probes_pdb_and_policy(target: str) -> None:
    docs = rendered(target)
    deployments, services = of_kind(docs, "Deployment"), of_kind(docs, "Service")
    pdbs, policies = of_kind(docs, "PodDisruptionBudget"), of_kind(docs, "NetworkPolicy")
    for name, port in processes().items():
        assert name in deployments, f"{name} has no Deployment"
        d = deployments[name]
        selector = d["spec"]["selector"]["matchLabels"]
        assert selector.items() <= d["spec"]["template"]["metadata"]["labels"].items(), name
        (c,) = d["spec"]["template"]["spec"]["containers"]
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        # The gateway's /healthz is every service's health: its liveness is /readyz (ops/k8s.liveness_path).
        assert c["livenessProbe"]["httpGet"]["path"] == ("/readyz" if name == "gateway" else "/healthz"), name
        assert c["startupProbe"]["httpGet"] == c["livenessProbe"]["httpGet"], name
        assert c["resources"]["requests"].keys() >= {"cpu", "memory"}, name
        assert c["ports"] == [{"name": "http", "containerPort": port}], name
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name

        s = services.get(name)
        assert s is not None, f"{name} has no Service"
        assert s["spec"]["selector"] == selector and s["spec"]["ports"][0]["port"] == port, name
        assert name in pdbs and pdbs[name]["spec"]["selector"]["matchLabels"] == selector, f"{name}: PDB"
        p = policies.get(name)
        assert p is not None and p["spec"]["podSelector"]["matchLabels"] == selector, f"{name}: NetworkPolicy"
        assert set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}, name
        # No other object's pods carry the process's name: its Service sends traffic to it alone.
        others = [o for o in docs if o["kind"] in ("Job", "CronJob") and selector.items()
                  <= o["spec"].get("template", {}).get("metadata", {}).get("labels", {}).items()]
        assert not others, name


def test_a_migration_job_per_service_with_migrations_and_its_database() -> None:
    docs = rendered("base")
    jobs, databases = of_kind(docs, "Job"), of_kind(docs, "Database")
    with_migrations = {n for n in service_folders() if (ROOT / "services" / n / "migrations").is_dir()}
    assert with_migrations
    for name in with_migrations:
        job = jobs[f"migrate-{k8s.k8s_name(name)}"]
        assert job["metadata"]["labels"]["roumu.io/phase"] == "pre-rollout"
        (c,) = job["spec"]["template"]["spec"]["containers"]
        assert c["command"] == ["python", "-m", "ops.migrate", name]
        assert databases[f"roumu-{k8s.k8s_name(name)}"]["spec"]["name"] == f"roumu_{name}"
    stream = jobs["nats-stream"]
    assert stream["spec"]["template"]["spec"]["containers"][0]["args"] == ["stream"]
    # Only the Deployments wait for the pre-rollout step (docs/operations.md, "Kubernetes").
    assert {d["metadata"]["labels"].get("roumu.io/phase") for d in of_kind(docs, "Deployment").values()
            if d["metadata"]["name"] != "redis"} == {"rollout"}


def test_the_segments_mirror_docker_compose() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    deployments = of_kind(rendered("base"), "Deployment")
    for name in processes():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        segments = {k.removeprefix("roumu.io/net-") for k, v in labels.items() if k.startswith("roumu.io/net-")
                    and v == "true"}
        assert segments == networks_of(compose[name]), name
    # Only the gateway takes traffic from outside (a rule without `from`).
    open_to_all = {p["metadata"]["name"] for p in of_kind(rendered("base"), "NetworkPolicy").values()
                   for rule in p["spec"].get("ingress", []) if "from" not in rule}
    assert open_to_all == {"gateway"}
    assert "default-deny-ingress" in of_kind(rendered("base"), "NetworkPolicy")


def test_settings_match_the_topology_and_secrets_are_referenced_not_embedded() -> None:
    docs = rendered("overlays/production")
    assert not of_kind(docs, "Secret"), "a Secret is created by the operator, never committed"
    env = of_kind(docs, "ConfigMap")["roumu-env"]["data"]
    for s in SERVICES:
        assert env[f"ROUMU_{s.name.upper()}_URL"] == f"http://{k8s.k8s_name(s.name)}:{s.port}"
    assert env["ROUMU_NATS_STREAM_REPLICAS"] == "3"
    text = yaml.safe_dump_all(docs)
    assert "postgresql+psycopg://" not in text and "password:" not in text.lower()
    referenced: set[str] = set()
    for doc in docs:
        for found in _walk(doc):
            if isinstance(found, dict) and "secretKeyRef" in found:
                referenced.add(found["secretKeyRef"]["name"])
            if isinstance(found, dict) and "secretName" in found:
                referenced.add(found["secretName"])
    assert referenced == SECRETS


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_production_runs_two_replicas_at_least_and_scales_the_busy_ones() -> None:
    docs = rendered("overlays/production")
    deployments = of_kind(docs, "Deployment")
    for name in processes():
        assert deployments[name]["spec"]["replicas"] >= 2, name
        assert deployments[name]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.0.0"), name
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    assert "gateway" in hpas and len(hpas) >= 3
    most = 0
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["name"] == name and name in deployments
        assert hpa["spec"]["minReplicas"] >= 2
        if name != "gateway":  # the gateway holds no database connections
            most = max(most, hpa["spec"]["maxReplicas"])
    # Each service process's pool is sized for the largest replica count (docs/configuration.md).
    assert int(of_kind(docs, "ConfigMap")["roumu-env"]["data"]["ROUMU_DB_REPLICAS"]) >= most


def test_backups_at_23_japan_time_and_postgres_and_nats_clusters() -> None:
    docs = rendered("base")
    backup = of_kind(docs, "CronJob")["backup"]
    assert backup["spec"]["schedule"] == "0 23 * * *" and backup["spec"]["timeZone"] == "Asia/Tokyo"
    assert backup["spec"]["concurrencyPolicy"] == "Forbid"
    (c,) = backup["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "roumu-backup" and c["args"] == ["run"]
    (pg,) = of_kind(docs, "Cluster").values()
    assert pg["apiVersion"] == "postgresql.cnpg.io/v1" and pg["spec"]["instances"] == 3
    values = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True
    # The tests' cluster (tests/support/nats_cluster.py) runs with the production setting.
    assert values["config"]["jetstream"]["merge"]["sync_interval"] == SYNC_INTERVAL


def test_a_stopping_pod_drains_before_it_closes() -> None:
    """SIGTERM turns /readyz false; the pod keeps serving for DRAIN seconds, longer than the
    readiness checks take to notice (periodSeconds x failureThreshold), so no request reaches a
    closed port, and drain + grace fit in the termination grace period (or the kubelet kills it)."""
    docs = rendered("overlays/production")
    env = of_kind(docs, "ConfigMap")["roumu-env"]["data"]
    drain, grace = float(env["ROUMU_SHUTDOWN_DRAIN_SECONDS"]), float(env["ROUMU_SHUTDOWN_GRACE_SECONDS"])
    checked = 0
    for name, deployment in of_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        if {"configMapRef": {"name": "roumu-env"}} not in container.get("envFrom", []):
            continue  # redis and the like: not a Roumu process
        ready = container["readinessProbe"]
        assert drain > ready.get("periodSeconds", 10) * ready.get("failureThreshold", 3), name  # k8s defaults
        assert drain + grace < pod["terminationGracePeriodSeconds"], name
        checked += 1
    assert checked > len(SERVICES)  # every service and the gateway
