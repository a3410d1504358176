"""JetStream fetching and acking in a child process, for a batch consumer whose own process is
CPU-bound.

nats-py parses the protocol, builds each message and writes each ack in Python: a bare
fetch-and-ack costs about 40–50 µs a message, in the same interpreter (one GIL) as the
consumer's own parsing, hashing and database work. Here a child process
(`python -m shared.fetch_process`) holds the pull subscription, fetches, and acks what the parent
tells it to; the parent parses and applies. The parent gets nats-py `Msg` objects bound to its
own client, so a nak, a term or an ack of a single message (the path of a failed batch) works
from the parent as before: acks are messages to the reply subject, valid from any connection.

Pipes, both ways length-prefixed frames (4 bytes, big-endian):
* child → parent (stdout): a pickle of [(subject, reply, data), …], one fetch; an empty one is a
  heartbeat, sent when a fetch found nothing, so the parent's loop wakes at least every
  `HEARTBEAT_S` to look at its stop flag. The parent reads frames as they come and applies
  everything that arrived since its last transaction in the next one (FetchProcess);
* parent → child (stdin): first one JSON line, the FetchSpec (so the NATS URL, which may hold
  credentials, never appears in a process listing); then frames of reply subjects joined by
  newlines, the messages to ack, sent after the parent's transaction committed.

The child exits when its stdin closes (the parent stopped or died), after sending the acks it
was given, and in any case within EXIT_GRACE_S of it, even while still connecting; it ignores
SIGINT and SIGTERM, which its process group gets when the service is stopped, so the acks of the
batches the service is finishing still go out. Messages fetched but never acked are redelivered
after the consumer's ack_wait, as after any crash; the parent's inbox makes them no-ops if they
were applied."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import signal
import struct
import sys
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import BinaryIO

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from shared.nats_client import NatsAccess, connect, durable_config, ensure_stream

log = logging.getLogger("roumu.fetch_process")

HEARTBEAT_S = 1.0
# After its input ends, the child exits within this, whatever it was doing.
EXIT_GRACE_S = 3.0
# How long the parent waits for the child to finish its acks and exit before killing it.
STOP_WAIT_S = 4.0
_LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class FetchSpec:
    """What the child subscribes to and how (the durable's configuration, as the parent would
    create it)."""

    nats: NatsAccess
    stream: str
    durable: str
    filter_subject: str
    batch: int
    ack_wait: float
    max_deliver: int
    # Messages delivered and not yet acked: room for the batch being applied, the one being
    # acked and the one being fetched, so fetching overlaps the parent's work.
    max_ack_pending: int
    stream_replicas: int = 1  # when the child is the first to find the stream missing


def encode(msgs: Sequence[tuple[str, str, bytes]]) -> bytes:
    frame = pickle.dumps(list(msgs), protocol=5)
    return _LENGTH.pack(len(frame)) + frame


Rows = list[tuple[str, str, bytes]]  # (subject, reply, data) of fetched messages


class FetchProcess:
    """The parent's side: starts the child, reads its frames as they come (so the child never
    waits on the pipe), and hands out everything that arrived since the last call as one batch:
    while the parent keeps up that is one fetch, while it lags it is every fetch that came
    meanwhile, so its transactions grow with the backlog (fewer commits and index pages written
    per event), bounded by the durable's max_ack_pending."""

    def __init__(self, spec: FetchSpec) -> None:
        self.spec = spec
        self._proc: asyncio.subprocess.Process | None = None
        self._frames: asyncio.Queue[Rows | Exception] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shared.fetch_process", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(asdict(self.spec)).encode() + b"\n")
        await self._proc.stdin.drain()
        self._reader = asyncio.create_task(self._read(self._proc))

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while True:
                head = await proc.stdout.readexactly(_LENGTH.size)
                frame = await proc.stdout.readexactly(_LENGTH.unpack(head)[0])
                self._frames.put_nowait(pickle.loads(frame))  # noqa: S301 - our own child's frame
        except Exception as exc:  # asyncio.IncompleteReadError: the child is gone
            self._frames.put_nowait(exc)

    async def next_batch(self, nc: NATS) -> list[Msg]:
        """Every message that arrived since the last call, waiting for the next frame if none
        did; [] when only heartbeats came. Raises when the child is gone."""
        rows = self._rows(await self._frames.get())
        while not self._frames.empty():
            rows += self._rows(self._frames.get_nowait())
        return [Msg(_client=nc, subject=subject, reply=reply, data=data) for subject, reply, data in rows]

    def _rows(self, item: Rows | Exception) -> Rows:
        if isinstance(item, Exception):
            self._frames.put_nowait(item)  # and again at every later call
            raise ConnectionError("the fetch process is gone") from item
        return item

    async def ack(self, msgs: Sequence[Msg]) -> None:
        """Have the child ack these messages (of a batch whose transaction committed)."""
        assert self._proc is not None and self._proc.stdin is not None
        frame = "\n".join(m.reply for m in msgs).encode()
        self._proc.stdin.write(_LENGTH.pack(len(frame)) + frame)
        await self._proc.stdin.drain()

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.returncode is None:
                if proc.stdin is not None:
                    proc.stdin.close()  # the child's signal to stop, once its acks are out
                try:
                    await asyncio.wait_for(proc.wait(), timeout=STOP_WAIT_S)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
        except asyncio.CancelledError:
            with suppress(ProcessLookupError):
                proc.kill()  # the consumer's own stop ran out of time: do not leave the child behind
            raise
        finally:
            if self._reader is not None:
                self._reader.cancel()
                with suppress(asyncio.CancelledError):
                    await self._reader


# --- the child ------------------------------------------------------------------------------


async def _child() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin.buffer)
    fields = json.loads(await stdin.readline())
    spec = FetchSpec(**{**fields, "nats": NatsAccess(**fields["nats"])})
    acks: asyncio.Queue[list[str] | None] = asyncio.Queue()
    # Read from the start, so the end of input is seen even while connecting (to a NATS that went
    # away, say): a child must not outlive its parent's consumer.
    reading = asyncio.create_task(_read_acks(stdin, acks))
    nc = await connect(spec.nats, f"fetch-{spec.durable}")
    js = nc.jetstream()
    await ensure_stream(js, spec.stream, replicas=spec.stream_replicas)
    config = durable_config(spec.durable, spec.filter_subject, ack_wait=spec.ack_wait,
                            max_deliver=spec.max_deliver, max_ack_pending=spec.max_ack_pending)
    # Creates the durable, or updates one created before with another max_ack_pending.
    await js.add_consumer(spec.stream, config=config)
    sub = await js.pull_subscribe(spec.filter_subject, durable=spec.durable, stream=spec.stream, config=config)
    fetching = asyncio.create_task(_fetch(sub, spec.batch))
    acking = asyncio.create_task(_ack(nc, acks))
    try:
        done, _ = await asyncio.wait({fetching, acking}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a failed fetch loop fails the child
    finally:
        for task in (fetching, reading):
            task.cancel()
            with suppress(Exception, asyncio.CancelledError):
                await task
        await nc.close()


async def _fetch(sub: JetStreamContext.PullSubscription, batch: int) -> None:
    out = sys.stdout.buffer
    while True:
        try:
            msgs = await sub.fetch(batch, timeout=HEARTBEAT_S)
        except TimeoutError:
            msgs = []
        frame = encode([(m.subject, m.reply, m.data) for m in msgs])
        # In a thread: a write that waits on the pipe must not stall this loop (acks, pings).
        await asyncio.to_thread(_write, out, frame)


async def _ack(nc: NATS, acks: asyncio.Queue[list[str] | None]) -> None:
    """Ack what the parent sends, in order, each frame with one round trip; returns when the
    parent closed the pipe."""
    while (replies := await acks.get()) is not None:
        for reply in replies:
            await nc.publish(reply)
        await nc.flush(timeout=5)


async def _read_acks(stdin: asyncio.StreamReader, acks: asyncio.Queue[list[str] | None]) -> None:
    try:
        while True:
            head = await stdin.readexactly(_LENGTH.size)
            frame = await stdin.readexactly(_LENGTH.unpack(head)[0])
            acks.put_nowait(frame.decode().split("\n") if frame else [])
    except asyncio.IncompleteReadError:
        pass
    acks.put_nowait(None)  # end of input: the parent stopped, or died
    # The acks queued before it go out first; whatever else happens, the process ends soon.
    asyncio.get_running_loop().call_later(EXIT_GRACE_S, os._exit, 0)


def _write(out: BinaryIO, frame: bytes) -> None:
    out.write(frame)
    out.flush()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # Stopped by its parent (end of input), not by the signals its process group gets: a Ctrl-C or
    # a SIGTERM to the group must not cut off the acks of the batches the parent is finishing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        asyncio.run(_child())
    except BrokenPipeError:
        pass
    except Exception as exc:
        log.error("fetch process failed: %s", repr(exc)[:300])
        sys.exit(1)


if __name__ == "__main__":
    main()
