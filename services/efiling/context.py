"""What the efiling routes and worker share in a running app (on `rt.extras["efiling"]`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx

from services.efiling.documents import DocumentStore, FilesStore
from services.efiling.egov_accounts import Egov
from services.efiling.settings import EfilingSettings
from services.efiling.worker import Worker
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import DataKeys, load_data_keys
from shared.service_app import Runtime


@dataclass
class Efiling:
    egov: Egov
    store: DocumentStore
    halt: threading.Event = field(default_factory=threading.Event)
    worker: Worker | None = None


def build(rt: Runtime, settings: EfilingSettings | None = None, clock: Clock | None = None,
          store: DocumentStore | None = None, keys: DataKeys | None = None) -> Efiling:
    cfg = settings or EfilingSettings()
    halt = threading.Event()

    def sleep(seconds: float) -> None:
        # Backoff waits end early when the app stops (the worker's pass then winds down).
        halt.wait(seconds)

    egov = Egov(cfg, keys or load_data_keys(rt.settings.keys_dir), httpx.Client(timeout=cfg.http_timeout_seconds),
                clock or SYSTEM_CLOCK, sleep)
    files = store or FilesStore(rt.settings.service_url("files"), rt.settings.keys_dir,
                                timeout_seconds=cfg.http_timeout_seconds)
    return Efiling(egov, files, halt)


def of(rt: Runtime) -> Efiling:
    ctx: Efiling = rt.extras["efiling"]
    return ctx
