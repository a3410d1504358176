"""The container's entry point: one image, the command picks what runs.

    python -m ops.serve <name>              serve a service (auth, accounts, ..., egov_sandbox) or `gateway`
    python -m ops.serve init                create missing databases, migrate them all, create signing keys,
                                            NATS passwords and the nats-server config (ROUMU_NATS_SERVER_CONFIG)
    python -m ops.serve stream              create the event stream, or apply today's configuration to it
                                            (ROUMU_NATS_STREAM_REPLICAS: 3 on a JetStream cluster), as `ops`
    python -m ops.serve healthcheck <name>  exit 0 when <name> on this host answers its health endpoint

<name> defaults to $ROUMU_SERVICE. Services listen on ROUMU_BIND_HOST (compose sets 0.0.0.0 inside
the container network) and their ROUMU_<SERVICE>_PORT; the gateway on ROUMU_GATEWAY_PORT."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

from shared.settings import CommonSettings
from shared.topology import BY_NAME, GATEWAY_PORT

USAGE = "usage: python -m ops.serve [init | stream | healthcheck <name> | <name>]  (names: gateway, " + ", ".join(
    BY_NAME) + ")"


def port_of(name: str, settings: CommonSettings) -> int:
    if name == "gateway":
        return int(os.environ.get("ROUMU_GATEWAY_PORT") or GATEWAY_PORT)
    return settings.service_port(name)


def factory_of(name: str) -> str:
    return "gateway.app:create_app" if name == "gateway" else f"services.{name}.app:create_app"


def init(settings: CommonSettings) -> None:
    from ops.databases import ensure_databases
    from ops.migrate import migrate, migrations_dir
    from shared.keys import ensure_keys
    from shared.nats_auth import write_server_config

    ensure_keys(settings.keys_dir)
    # Read by the nats container (compose: `-c /nats-config/nats-server.conf`), which starts after init.
    write_server_config(settings.keys_dir, settings.nats_stream, path=settings.nats_server_config)
    names = [n for n in BY_NAME if migrations_dir(n).is_dir()]
    created = ensure_databases(settings, names)
    migrate(names, settings=settings)
    print(f"init: keys in {settings.keys_dir}; databases created: {created or 'none'}; migrated: {names}")


def stream(settings: CommonSettings) -> None:
    """Once per rollout (Kubernetes: the stream Job; docs/operations.md): services only create the
    stream when it is missing, so a change of replicas or limits reaches an existing stream here."""
    import asyncio

    from shared.nats_auth import OPS
    from shared.nats_client import connect, ensure_stream

    async def go() -> int:
        nc = await connect(settings.nats_access(OPS), "ops-stream", max_reconnect_attempts=3)
        try:
            js = nc.jetstream()
            await ensure_stream(js, settings.nats_stream, update=True, replicas=settings.nats_stream_replicas)
            info = await js.stream_info(settings.nats_stream)
            return int(info.config.num_replicas or 1)
        finally:
            await nc.close()

    replicas = asyncio.run(go())
    print(f"stream: {settings.nats_stream} ready with {replicas} replica(s)")


def healthcheck(name: str, settings: CommonSettings) -> int:
    # The gateway's /healthz reports every service; its own liveness is /readyz.
    path = "/readyz" if name == "gateway" else "/healthz"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port_of(name, settings)}{path}", timeout=3) as r:
            return 0 if r.status == 200 else 1
    except (urllib.error.URLError, OSError):
        return 1


def serve(name: str, settings: CommonSettings) -> None:
    import runpy
    from pathlib import Path

    from shared.serving import serve as serve_service

    if name == "gateway" and (Path(__file__).resolve().parents[1] / "gateway" / "__main__.py").is_file():
        # The gateway serves itself with its own uvicorn settings (gateway/server.py).
        os.environ.setdefault("ROUMU_GATEWAY_PORT", str(port_of(name, settings)))
        runpy.run_module("gateway", run_name="__main__", alter_sys=True)
        return

    serve_service(factory_of(name), settings.bind_host, port_of(name, settings), settings.shutdown_drain_seconds,
                  settings.shutdown_grace_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    settings = CommonSettings()
    command = args[0] if args else os.environ.get("ROUMU_SERVICE", "")
    if command == "init":
        init(settings)
        return 0
    if command == "stream":
        stream(settings)
        return 0
    if command == "healthcheck":
        name = args[1] if len(args) > 1 else os.environ.get("ROUMU_SERVICE", "")
        if name != "gateway" and name not in BY_NAME:
            print(USAGE, file=sys.stderr)
            return 2
        return healthcheck(name, settings)
    if command != "gateway" and command not in BY_NAME:
        print(USAGE, file=sys.stderr)
        return 2
    serve(command, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
