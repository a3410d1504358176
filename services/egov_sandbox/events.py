"""The sandbox publishes no events: it stands in for e-Gov, a system outside Roumu, which our
services only reach over HTTP. Its outbox table exists (the same shape as every service) and
stays empty."""

from __future__ import annotations

PUBLISHES: tuple[str, ...] = ()
