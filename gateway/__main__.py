"""`python -m gateway`: serve on ROUMU_BIND_HOST and ROUMU_GATEWAY_PORT (see gateway/server.py)."""

from __future__ import annotations

from gateway.server import serve
from gateway.settings import get_gateway_settings
from shared.settings import get_settings

if __name__ == "__main__":
    serve(get_settings().bind_host, get_gateway_settings(), get_settings().shutdown_drain_seconds)
