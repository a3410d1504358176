"""A 100 MB upload through the gateway against writing the same bytes to disk, in the same run.

Starts a nats-server, the files service (uvicorn, uvloop, httptools, one process) and the gateway
(`python -m gateway`, one worker), each its own process, SQLite, local storage, all on 127.0.0.1.
The client (this process) streams a generated 100 MiB PDF-looking body in 1 MiB chunks with httpx:

* baseline: the same bytes written to a file in the same folder, with fsync (the service fsyncs
  its sealed temporary file too);
* raw PUT through the gateway, multipart POST through the gateway, and raw PUT straight to the
  service (what the gateway hop costs).

Each is run RUNS times; the median is reported. The service reads the body chunk by chunk, checks
it, hashes it (SHA-256), seals it (AES-256-GCM, 1 MiB segments) into a temporary file, fsyncs, moves
it into place and commits the row and events. No virus scan (clamd's own time would dominate).
Memory: VmHWM after against VmRSS before, for both processes, during one gateway upload."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.common import OUT, markers, write_section
from ops.migrate import migrate
from services.files.models import jigyosho_directory
from services.files.settings import MAX_FILE_BYTES
from shared.db import Database
from shared.keys import ensure_keys
from shared.settings import CommonSettings
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER, TokenSigner
from tests.files.stack import Growth, Stack, pdf_body, post_file, put_file
from tests.support.nats_server import server_with_users

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = markers("bench_files_upload")
GOAL = 0.3


@dataclass
class Result:
    runs: int
    seconds: dict[str, list[float]] = field(default_factory=dict)
    growth: dict[str, Growth] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def mib_s(self, name: str) -> float:
        return MAX_FILE_BYTES / (1024 * 1024) / self.median(name)

    def ratio(self, name: str) -> float:
        return self.median("disk") / self.median(name)


def write_to_disk(folder: Path) -> None:
    path = folder / f"baseline-{uuid.uuid4().hex}.bin"
    with path.open("wb") as f:
        for chunk in pdf_body(MAX_FILE_BYTES):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(runs: int = 3) -> Result:
    result = Result(runs)
    with tempfile.TemporaryDirectory(prefix="roumu-bench-files-") as tmp_name:
        tmp = Path(tmp_name)
        # The NATS users and permissions of make run (shared/nats_auth.py).
        nats = server_with_users(tmp / "nats", tmp / "keys", CommonSettings().nats_stream)
        nats.start()
        stack: Stack | None = None
        try:
            settings = CommonSettings(var_dir=tmp, keys_dir=tmp / "keys", nats_url=nats.url,
                                      database_url_template=f"sqlite:///{tmp.as_posix()}/db/{{service}}.db",
                                      log_level="WARNING")
            ensure_keys(settings.keys_dir)
            (tmp / "db").mkdir(exist_ok=True)
            migrate(["files"], settings)
            stack = Stack(tmp, settings).start()
            signer = TokenSigner(settings.keys_dir, "access")
            # A tenant administrator holds the files menu by role before any grant is replicated.
            tenant_id = str(uuid.uuid4())
            # The 事業所 the uploads name (J-1), in the files service's 事業所 master read model.
            db = Database(settings.database_url("files"))
            with db.transaction() as session:
                jigyosho_directory.apply(session, tenant_id, "J-1", "roumu.accounts.jigyosho.created",
                                         datetime.now(UTC), {"name": "事業所", "status": "active"})
            db.dispose()
            token = signer.sign({"sub": "bench-admin", "tid": tenant_id, "typ": "access", "kind": "user",
                                 "roles": ["tenant_admin"], "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, 3600)
            with httpx.Client(timeout=600) as client:
                def ok(r: httpx.Response) -> None:
                    if r.status_code != 201:
                        raise RuntimeError(f"upload failed: {r.status_code} {r.text[:300]}")

                cases: dict[str, Callable[[], None]] = {
                    "disk": lambda: write_to_disk(tmp),
                    "gateway_put": lambda: ok(put_file(client, stack.gateway_url, token, MAX_FILE_BYTES)),
                    "gateway_multipart": lambda: ok(post_file(client, stack.gateway_url, token, MAX_FILE_BYTES)),
                    "direct_put": lambda: ok(put_file(client, stack.files_url, token, MAX_FILE_BYTES)),
                }
                ok(put_file(client, stack.gateway_url, token, 1000))  # warm up
                for i in range(runs):  # interleaved, so drift in the machine's load hits every case alike
                    for name, fn in cases.items():
                        result.seconds.setdefault(name, []).append(timed(fn))
                    print(f"run {i + 1}: " + ", ".join(f"{n} {v[-1]:.2f}s" for n, v in result.seconds.items()),
                          flush=True)
                before = stack.measure()
                ok(put_file(client, stack.gateway_url, token, MAX_FILE_BYTES))
                result.growth = stack.growth(before)
            return result
        finally:
            if stack is not None:
                stack.stop()
            nats.stop()


LABELS = {
    "disk": "write the same bytes to a file (+ fsync), same folder",
    "gateway_put": "raw PUT through the gateway",
    "gateway_multipart": "multipart POST through the gateway",
    "direct_put": "raw PUT straight to the files service",
}


def markdown(r: Result) -> str:
    rows = ["| path | median s | MiB/s | vs disk | runs (s) |", "| --- | ---: | ---: | ---: | --- |"]
    for name, label in LABELS.items():
        runs = ", ".join(f"{v:.2f}" for v in r.seconds[name])
        rows.append(f"| {label} | {r.median(name):.2f} | {r.mib_s(name):.0f} | {r.ratio(name):.2f}× | {runs} |")
    ratio = r.ratio("gateway_put")
    mem = "; ".join(f"{n} {g.mib:+.1f} MiB (RSS {g.before_kib / 1024:.0f} → peak {g.peak_kib / 1024:.0f} MiB)"
                    for n, g in r.growth.items())
    return "\n".join([
        "## 100 MB upload through the gateway against a disk write (bench/bench_files_upload.py)",
        "",
        "Method: the files service (uvicorn, uvloop, httptools, one process) and the gateway (`python -m gateway`, "
        "one worker, token check, rate limits raised), each its own process, SQLite, local storage, on 127.0.0.1. "
        "The client streams a generated 100 MiB (104,857,600 bytes, the per-file limit) PDF-looking body in 1 MiB "
        "chunks. The service checks it while it streams (size, magic bytes), hashes it (SHA-256), seals it "
        "(AES-256-GCM, 1 MiB segments) into a temporary file, fsyncs, moves it into place and commits row and "
        f"events; no virus scan. Cases interleaved, {r.runs} runs each, median.",
        "",
        *rows,
        "",
        f"* Gateway raw PUT / disk write: **{ratio:.2f}×** — goal ≥ {GOAL}×: {'met' if ratio >= GOAL else 'NOT met'}.",
        f"* Memory growth during one 100 MB gateway upload (VmHWM after − VmRSS before): {mem}; "
        "the test (tests/files/test_large.py) holds both under 64 MiB.",
        "",
        "Reading it: the disk write is the floor of any upload (the bytes must land somewhere); an upload adds "
        "two HTTP hops in Python (client → gateway → service, each a uvicorn parser and a copy per chunk), "
        "SHA-256, AES-GCM and a second write. On this 2-core machine the client, the gateway and the service "
        "compete for the cores, and other sessions' work shares them (see the load average above).",
    ])


def main() -> None:
    result = run(int(os.environ.get("BENCH_FILES_RUNS", "3")))
    write_section("bench_files_upload", markdown(result))
    print(f"gateway PUT / disk: {result.ratio('gateway_put'):.2f}x; written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
