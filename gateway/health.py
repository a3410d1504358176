"""The gateway's view of the services: each one's /healthz, asked concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Literal

import httpx

State = Literal["up", "down"]


async def _one(client: httpx.AsyncClient, base_url: str, wait_s: float) -> State:
    try:
        response = await client.get(f"{base_url.rstrip('/')}/healthz", timeout=wait_s)
    except httpx.HTTPError:
        return "down"
    return "up" if response.status_code == 200 else "down"


async def _any(client: httpx.AsyncClient, urls: str, wait_s: float) -> State:
    """A service listed as several replicas (comma-separated) is up while one of them is."""
    states = await asyncio.gather(*(_one(client, u.strip(), wait_s) for u in urls.split(",") if u.strip()))
    return "up" if "up" in states else "down"


async def services_health(client: httpx.AsyncClient, upstreams: Mapping[str, str], wait_s: float) -> dict[str, State]:
    """Service name → up/down. One slow service costs `wait_s`, not its sum over all services."""
    names = sorted(upstreams)
    states = await asyncio.gather(*(_any(client, upstreams[n], wait_s) for n in names))
    return dict(zip(names, states, strict=True))
