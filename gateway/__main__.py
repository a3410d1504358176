"""`python -m gateway`: serve on ROUMU_BIND_HOST and ROUMU_GATEWAY_PORT (see gateway/server.py)."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.server import uvicorn_config
from gateway.settings import get_gateway_settings
from shared.settings import get_settings

if __name__ == "__main__":
    uvicorn.Server(uvicorn_config(create_app(), get_settings().bind_host, get_gateway_settings().port)).run()
