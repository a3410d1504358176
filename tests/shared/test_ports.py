"""shared.ports.free_port: a port to start a server on, outside the kernel's ephemeral range."""

import socket

from shared.ports import _ephemeral_low, free_port


def test_free_ports_are_bindable_and_below_the_ephemeral_range():
    low = _ephemeral_low()
    ports = {free_port() for _ in range(20)}
    assert len(ports) > 1  # drawn at random, not one fixed port
    for port in ports:
        assert port < low
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # nobody holds it
