"""A free TCP port on 127.0.0.1 for a server started in a moment (make run's nats-server, the
restore drill's stack, the tests' processes).

Chosen below the kernel's ephemeral range: a port the kernel hands out (bind to port 0) lies in
that range, and between our check and the server's own bind any outgoing connection of the machine
(NATS clients, HTTP clients) can be given the same port — a test run saw a service fail its start
with "address already in use" that way."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANDOM = random.SystemRandom()
_FLOOR = 20000  # above the well-known and most registered service ports in use on dev machines


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    low = _ephemeral_low()
    if low - _FLOOR >= 1000:
        for _ in range(200):
            port = _RANDOM.randrange(_FLOOR, low)
            if _bindable(port):
                return port
    with socket.socket() as s:  # no room below the range: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
