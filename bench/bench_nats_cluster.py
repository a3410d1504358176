"""What the 3-node JetStream cluster and its file-store sync setting cost the outbox relay, against
one nats-server in the same run (docs/operations.md, "The NATS cluster").

The relay publishes one event at a time and waits for JetStream's acknowledgement before the next
(shared/relay.py), so the rate it can publish at is one over the acknowledgement's latency. Each
set-up here gets BENCH_NATS_EVENTS (default 2,000) envelopes of ~600 bytes published that way, as
the accounts NATS user, with make run's users and permissions:

* baseline: one nats-server from the wheel, stream at 1 replica, JetStream's default sync (a flush
  every 2 minutes), as `make run` and compose run it; measured before and after the others, so
  drift of the machine shows;
* cluster: three nats-server processes on loopback (tests/support/nats_cluster.py), stream at 3
  replicas, default sync;
* cluster, `sync_interval: always`: the same with an fsync of every write, the production setting.

Run alone: `python -m bench.bench_nats_cluster` prints the figures and writes its section of
docs/BENCHMARKS.md. Loopback hides the network's round trips between nodes: on real machines the
cluster's latency adds those."""

from __future__ import annotations

import asyncio
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import write_section
from shared.events import SYSTEM, EventEnvelope
from shared.keys import ensure_keys
from shared.nats_auth import credentials_dir, read_password
from shared.nats_client import NatsAccess, connect, ensure_stream
from tests.support.nats_cluster import NatsCluster
from tests.support.nats_server import server_with_users

STREAM = "ROUMU_BENCH_CLUSTER"
PUBLISHER = "accounts"


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    cpu: float  # this process's CPU seconds (the client side)

    @property
    def per_s(self) -> float:
        return self.events / self.seconds

    @property
    def latency_ms(self) -> float:
        return 1000 * self.seconds / self.events


def envelopes(n: int) -> list[EventEnvelope]:
    return [EventEnvelope(type="roumu.accounts.jigyosho.updated", tenant_id=f"t-{i % 20}", actor=SYSTEM,
                          subject={"jigyosho_id": f"j-{i}"}, data={"n": i, "name": "事業所" * 20, "pad": "x" * 300})
            for i in range(n)]


async def publish(access: NatsAccess, replicas: int, events: list[EventEnvelope]) -> tuple[float, float]:
    nc = await connect(access, "bench-publisher", max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + 60
        while True:  # a new cluster elects its meta leader first
            try:
                await ensure_stream(js, STREAM, replicas=replicas)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for e in events:  # as the relay does: one at a time, each acknowledged before the next
            await js.publish(e.type, e.to_json(), timeout=5.0, stream=STREAM, headers={"Nats-Msg-Id": e.id})
        seconds = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        return seconds, (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    finally:
        await nc.close()


def single(root: Path, keys: Path, events: list[EventEnvelope], name: str) -> Result:
    server = server_with_users(root / name, keys, STREAM)
    server.start()
    try:
        access = NatsAccess(server.url, PUBLISHER, read_password(credentials_dir(keys), PUBLISHER))
        seconds, cpu = asyncio.run(publish(access, 1, events))
    finally:
        server.stop()
    return Result(name, len(events), seconds, cpu)


def cluster(root: Path, keys: Path, events: list[EventEnvelope], name: str, sync: str | None) -> Result:
    c = NatsCluster(root / name, keys, STREAM, admin=False, sync_interval=sync)
    c.start()
    try:
        access = NatsAccess(c.url, PUBLISHER, read_password(credentials_dir(keys), PUBLISHER))
        seconds, cpu = asyncio.run(publish(access, 3, events))
    finally:
        c.stop()
    return Result(name, len(events), seconds, cpu)


def run(n: int) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="roumu-bench-cluster-") as tmp:
        root = Path(tmp)
        keys = root / "keys"
        ensure_keys(keys)
        events = envelopes(n)  # each set-up has a fresh store, so the same ids are not duplicates
        return [
            single(root, keys, events, "one server, R1 (before)"),
            cluster(root, keys, events, "3-node cluster, R3, default sync", None),
            cluster(root, keys, events, "3-node cluster, R3, sync_interval always", "always"),
            single(root, keys, events, "one server, R1 (after)"),
        ]


def markdown(results: list[Result]) -> str:
    base = (results[0].per_s + results[-1].per_s) / 2
    rows = "\n".join(f"| {r.name} | {r.events:,} | {r.seconds:.2f} | {r.per_s:,.0f} | {r.latency_ms:.2f} | "
                     f"{r.per_s / base:.2f} | {1000 * r.cpu / r.events:.3f} |" for r in results)
    return f"""## NATS: one server against the 3-node cluster (bench_nats_cluster)

Method: events published one at a time, each acknowledged before the next, as the outbox relay
does (`shared/relay.py`), as the accounts NATS user; a fresh server or cluster from the wheel on
loopback per row, the single server measured before and after. Ratio: against the mean of the two
single-server rows. CPU: the publishing client's, per event. On loopback the nodes' round trips are
free; on real machines they add to the cluster's latency.

| set-up | events | seconds | events/s | ms per event | ratio | client CPU ms/event |
| --- | --- | --- | --- | --- | --- | --- |
{rows}
"""


def main() -> None:
    results = run(int(os.environ.get("BENCH_NATS_EVENTS", "2000")))
    for r in results:
        print(f"{r.name}: {r.events} in {r.seconds:.2f} s = {r.per_s:,.0f}/s, {r.latency_ms:.2f} ms each")
    write_section("bench_nats_cluster", markdown(results))
    print("written: docs/BENCHMARKS.md")


if __name__ == "__main__":
    main()
