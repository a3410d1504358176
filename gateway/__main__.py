"""`python -m gateway`: serve on ROUMU_BIND_HOST and ROUMU_GATEWAY_PORT with uvloop and httptools."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.settings import get_gateway_settings
from shared.settings import get_settings

if __name__ == "__main__":
    uvicorn.run(create_app(), host=get_settings().bind_host, port=get_gateway_settings().port,
                loop="uvloop", http="httptools", log_config=None, access_log=False,
                # The gateway reads X-Forwarded-For itself, from its trusted proxies only; uvicorn's
                # handling would trust 127.0.0.1 and rewrite the peer before the gateway sees it.
                proxy_headers=False)
