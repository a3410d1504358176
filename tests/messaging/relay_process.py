"""A relay in a process of its own, for the leadership test: `python -m tests.messaging.relay_process
<database url> <nats url> <stream> <service>` runs until killed (it is killed with SIGKILL)."""

from __future__ import annotations

import asyncio
import sys

from shared.db import Database
from shared.relay import OutboxRelay
from tests.messaging.conftest import messaging


def main() -> None:
    db_url, nats_url, stream, service = sys.argv[1:5]
    relay = OutboxRelay(service, Database(db_url), messaging, nats_url, stream, interval=0.05, max_backoff=0.5)
    print("relay running", flush=True)
    asyncio.run(relay.run(asyncio.Event()))


if __name__ == "__main__":
    main()
