"""How a service process is served (ops/serve.py, `make run`): uvicorn, with a drain on SIGTERM.

SIGTERM (a rolling restart, Kubernetes ending a pod, `make run` stopping):

1. `/readyz` answers 503 at once (`DRAINING`), so the gateway ejects the replica and Kubernetes
   takes the pod out of its Service, while requests still arriving are served as usual;
2. after SHUTDOWN_DRAIN_SECONDS, uvicorn's own graceful shutdown: the listening socket closes (a
   connect fails, which the gateway retries on another replica), idle keep-alive connections close,
   requests in flight finish within SHUTDOWN_GRACE_SECONDS;
3. then the app's lifespan ends (shared/service_app.py): the relay and the consumers are told to
   stop, a consumer finishes and acks the messages it has fetched and fetches no more, and the
   process exits. A message fetched but not acked is redelivered to another replica; the inbox
   makes that harmless.

A second SIGTERM (or Ctrl-C) during the drain skips the rest of it."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import uvicorn

# Set when the process was asked to stop: /readyz answers 503 from then on.
DRAINING = threading.Event()


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_seconds: float) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self._timer: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first = not DRAINING.is_set()
        DRAINING.set()
        if first and sig == signal.SIGTERM and self.drain_seconds > 0:
            self._captured_signals.append(sig)  # re-raised after the shutdown, as uvicorn does
            self._timer = threading.Timer(self.drain_seconds, self._stop)
            self._timer.daemon = True
            self._timer.start()
            return
        if self._timer is not None:
            self._timer.cancel()
        super().handle_exit(sig, frame)

    def _stop(self) -> None:
        self.should_exit = True


def serve(factory: str, host: str, port: int, drain_seconds: float, grace_seconds: float) -> None:
    config = uvicorn.Config(factory, factory=True, host=host, port=port, proxy_headers=False, access_log=False,
                            timeout_graceful_shutdown=int(grace_seconds))
    DrainingServer(config, drain_seconds).run()
