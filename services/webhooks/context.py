"""What the webhooks use cases need besides the database: settings, data keys, clock, HTTP client."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx

from services.webhooks.settings import WebhooksSettings
from shared.clock import Clock
from shared.crypto import DataKeys
from shared.service_app import Runtime


@dataclass
class WebhooksContext:
    settings: WebhooksSettings
    data_keys: DataKeys
    clock: Clock
    http: httpx.Client
    # Set by the consumer and the API when there is something to send now; the worker waits on it.
    wake: threading.Event = field(default_factory=threading.Event)


def of(rt: Runtime) -> WebhooksContext:
    ctx: WebhooksContext = rt.extras["webhooks"]
    return ctx
