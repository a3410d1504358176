"""e-Filing against the e-Gov sandbox: 1,000 filings bulk-submitted and tracked to 手続終了.

`python -m bench.bench_efiling` (BENCH_FILINGS, default 1000; BENCH_BASELINE, default 50) writes
its marked section of docs/BENCHMARKS.md (`--no-write`: print only; `bench.run` discovers it). The
sandbox runs as a real HTTP server in its own process (uvicorn, SQLite), as e-Gov would be remote;
efiling's code runs in this process against its own SQLite database; everything on 127.0.0.1.

Baseline, same run: the single-filing path (/apply/check + /apply per filing, then reading each
case), measured on BENCH_BASELINE filings and scaled per filing."""

from __future__ import annotations

import cProfile
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, cast

import httpx

from bench.common import markers, write_section
from ops.migrate import migrate
from services.efiling import submission, tracking
from services.efiling.documents import FilesStore
from services.efiling.settings import EfilingSettings
from shared.db import Database
from shared.keys import ensure_keys
from shared.settings import CommonSettings
from tests.services.efiling.support import link_account, make_egov, new_filing, tenant
from tests.services.egov_support import CLIENT_ID, CLIENT_SECRET, new_account
from tests.support.nats_server import free_port

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = markers("bench_efiling")
TITLE = "## e-Filing: bulk submission and tracking against the sandbox (bench/bench_efiling.py)"

# BENCH_TIMINGS=1: each server prints, when it stops, the wall time its requests took per route
# (a timing log: where the time goes on the servers' side).
TIMINGS = """
import os, re, sys, time
from collections import defaultdict
def timed(app, name):
    if not os.environ.get("BENCH_TIMINGS"):
        return app
    totals = defaultdict(lambda: [0, 0.0])
    async def wrapped(scope, receive, send):
        if scope["type"] == "lifespan":
            async def receive_and_report():
                message = await receive()
                if message["type"] == "lifespan.shutdown":
                    report()
                return message
            return await app(scope, receive_and_report, send)
        if scope["type"] != "http":
            return await app(scope, receive, send)
        key = scope["method"] + " " + re.sub(r"/[0-9a-f-]{16,}|/[0-9]+", "/{id}", scope["path"])
        t = time.perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            totals[key][0] += 1
            totals[key][1] += time.perf_counter() - t
    def report():
        for k, (n, s) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
            print(f"[{name}] {k}: {n} requests, {s:.1f} s, {s / n * 1000:.1f} ms each", file=sys.stderr)
    return wrapped, report
"""

SERVE = TIMINGS + """
import sys, uvicorn
from services.egov_sandbox.app import create_app
from services.egov_sandbox.settings import SandboxSettings
from shared.settings import CommonSettings
app = create_app(settings=CommonSettings(), background=False,
                 sandbox_settings=SandboxSettings(client_id=sys.argv[2], client_secret=sys.argv[3]))
served = timed(app, "sandbox")
uvicorn.run(served[0] if isinstance(served, tuple) else served, host="127.0.0.1", port=int(sys.argv[1]),
            log_level="critical", http="httptools")
if isinstance(served, tuple):
    served[1]()
"""

# The files service, where efiling stores each 公文書 (its internal official-documents route), as
# in production: its own process, its own database, the relay off (no NATS in the bench).
SERVE_FILES = TIMINGS + """
import sys, uvicorn
from services.files.app import create_app
from shared.settings import CommonSettings
served = timed(create_app(settings=CommonSettings(), background=False), "files")
uvicorn.run(served[0] if isinstance(served, tuple) else served, host="127.0.0.1", port=int(sys.argv[1]),
            log_level="critical", http="httptools")
if isinstance(served, tuple):
    served[1]()
"""


class ServiceProcess:
    """A service in its own process (uvicorn), started from a small script."""

    def __init__(self, settings: CommonSettings, script: str, *args: str) -> None:
        self.port = free_port()
        env = {**os.environ, "ROUMU_VAR_DIR": str(settings.var_dir), "ROUMU_KEYS_DIR": str(settings.keys_dir),
               "ROUMU_DATABASE_URL_TEMPLATE": settings.database_url_template, "ROUMU_LOG_LEVEL": "WARNING"}
        self.proc = subprocess.Popen([sys.executable, "-c", script, str(self.port), *args], env=env, cwd=ROOT)
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.url, timeout=60)

    def start(self) -> Self:
        for _ in range(600):
            if self.proc.poll() is not None:
                raise RuntimeError("service process exited")
            try:
                if self.http.get("/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("service did not start")

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(30)


class SandboxProcess(ServiceProcess):
    """The e-Gov sandbox in its own process (the interface tests' SandboxServer offers)."""

    def __init__(self, settings: CommonSettings) -> None:
        super().__init__(settings, SERVE, CLIENT_ID, CLIENT_SECRET)
        self.api, self.auth = f"{self.url}/shinsei/v2", f"{self.url}/auth"

    def cases(self, account: str) -> list[dict[str, Any]]:
        r = self.http.get("/_sandbox/cases", params={"account": account})
        r.raise_for_status()
        return list(r.json())


def _track_all(db, egov, store, ids: list[str]) -> tuple[int, int]:
    passes = 0
    while True:
        passes += 1
        tracking.track_once(db, egov, store)
        with db.sessions() as session:
            from sqlalchemy import func, select

            from services.efiling.models import Submission

            left = session.execute(select(func.count()).select_from(Submission).where(
                Submission.filing_id.in_(ids), Submission.state != "completed")).scalar()
        if not left or passes > 50:
            return passes, int(left or 0)


def run(n: int, baseline_n: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="roumu-bench-efiling-"))
    settings = CommonSettings(var_dir=tmp, keys_dir=tmp / "keys", database_url_template=f"sqlite:///{tmp}/{{service}}.db",
                              log_level="WARNING")
    ensure_keys(settings.keys_dir)
    migrate(["efiling", "egov_sandbox", "files"], settings)
    sandbox = SandboxProcess(settings).start()
    files = ServiceProcess(settings, SERVE_FILES).start()
    db = Database(settings.database_url("efiling"))
    egov, _ = make_egov(settings, cast(Any, sandbox), bulk_chunk_size=500)  # the tests' SandboxServer interface
    store = FilesStore(files.url, settings.keys_dir)
    try:
        # baseline: one by one
        t, acct = tenant(), new_account()
        acct_id = link_account(db, egov, cast(Any, sandbox), t, acct)
        ids = [new_filing(db, egov, t, acct_id) for _ in range(baseline_n)]
        t0 = time.perf_counter()
        for fid in ids:
            submission.submit(db, egov, fid)
        _track_all(db, egov, store, ids)
        single = time.perf_counter() - t0

        t, acct = tenant(), new_account()
        acct_id = link_account(db, egov, cast(Any, sandbox), t, acct)
        t0 = time.perf_counter()
        ids = [new_filing(db, egov, t, acct_id) for _ in range(n)]
        drafted = time.perf_counter() - t0
        profile = os.environ.get("BENCH_PROFILE")  # a path: cProfile of submission + tracking
        prof = cProfile.Profile() if profile else None
        if prof is not None:
            prof.enable()
        t1 = time.perf_counter()
        submission.bulk_submit(db, egov, ids)
        submitted = time.perf_counter() - t1
        t2 = time.perf_counter()
        passes, left = _track_all(db, egov, store, ids)
        tracked = time.perf_counter() - t2
        if prof is not None and profile:
            prof.disable()
            prof.dump_stats(profile)
        cases = sandbox.cases(acct)
        arrive_ids = [c["arrive_id"] for c in cases]
        return {"n": n, "drafted_s": drafted, "submitted_s": submitted, "tracked_s": tracked,
                "total_s": submitted + tracked, "passes": passes, "left": left, "arrivals": len(cases),
                "duplicates": len(arrive_ids) - len(set(arrive_ids)) + max(0, len(cases) - n),
                "finished": sum(1 for c in cases if c["status"] == "手続終了"),
                "baseline_n": baseline_n, "baseline_s": single, "baseline_per_filing_s": single / baseline_n}
    finally:
        egov.http.close()
        store.close()
        db.dispose()
        sandbox.stop()
        files.stop()


def markdown(r: dict[str, float], concurrency: int) -> str:
    scaled = r["baseline_per_filing_s"] * r["n"]
    goal = "within" if r["total_s"] <= 60 and r["duplicates"] == 0 else "over"
    return "\n".join([
        BEGIN,
        TITLE,
        "",
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}, {os.cpu_count()} cores, load average before / after: "
        f"{r['load']:.1f} / {r['load_after']:.1f}. Method: the e-Gov sandbox as a real HTTP server in its own "
        "process (uvicorn, SQLite, as e-Gov is remote); the files service in its own process too (uvicorn, "
        "SQLite), where each 公文書 is stored through its internal official-documents route (ZIP members "
        "checked, sealed at rest, recorded with its event) as in production; efiling's code in the bench process "
        "on SQLite; packages built from 資格取得届 form data; `/bulk-apply` in sends of 500, mapped back through "
        "`/apply/report`; tracked with `/apply/lists?send_number=` (50 a page; the sandbox moves each listed case "
        "one scripted step: 到達 → 審査中 → 手続終了 with a 公文書 it signs); each 公文書 downloaded, its XMLDSig "
        "checked locally and by `/official_document/verify`, stored in files, recorded, completed — "
        f"{concurrency} at a time (`ROUMU_EFILING_DOCUMENT_CONCURRENCY`). Goal: ≤ 60 s and 0 duplicates.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| filings | {int(r['n'])} |",
        f"| drafting (form data sealed, package built once for validation) | {r['drafted_s']:.1f} s |",
        f"| bulk submission (build, write-before-call, /bulk-apply, report mapping) | {r['submitted_s']:.1f} s |",
        f"| tracking to 手続終了 incl. 公文書 ({int(r['passes'])} poller passes) | {r['tracked_s']:.1f} s |",
        f"| **submission + tracking** | **{r['total_s']:.1f} s** ({goal} the 60 s goal) |",
        f"| arrivals at the sandbox / finished (手続終了) | {int(r['arrivals'])} / {int(r['finished'])} |",
        f"| duplicate arrivals | {int(r['duplicates'])} |",
        f"| baseline, same run: one by one (/apply/check + /apply, then per-case reads), {int(r['baseline_n'])} "
        f"filings | {r['baseline_s']:.1f} s ({r['baseline_per_filing_s'] * 1000:.0f} ms per filing; ≈ {scaled:.0f} s "
        f"for {int(r['n'])}) |",
        "",
        "Where the time goes (a profiling run on the same machine, 2026-11-26, load ≈ 4.5: cProfile of the bench "
        "process with `BENCH_PROFILE=<file>`, and each server's wall time per route with `BENCH_TIMINGS=1`): "
        "about 70 % of tracking is the 公文書 phase, bound by the two servers — per document three sandbox requests "
        "(download, verify, completion, ≈ 20–30 ms each under 8-way concurrency on a shared 2-core machine) and one "
        "files request (≈ 30 ms: sealing, ZIP inspection, a transaction with its event); efiling's own share was "
        "5,000 single-row outbox inserts, each flushing the session first (≈ 6 s of the bench process). Changed: "
        "efiling records a page's events in one statement (SQL statements of submission + tracking 7,143 → 2,151, "
        "bulk submission 6.5 → 4.4 s in that run); the sandbox reads a listed page's notices and 公文書 in two "
        "queries instead of two per case and looks a case up once when a 公文書 is completed. Not changed: the "
        "sandbox still signs every 公文書, efiling still checks every signature locally and asks "
        "`/official_document/verify` (the local check proves integrity against the certificate embedded in the "
        "document, not that it is a GPKI official's: EGOV-XML.md §5), and nothing of the sandbox's work is "
        "skipped.",
        "",
        "Previous runs (2026-11-26): 109.7 s (submission 17.8 s + tracking 91.9 s, load 5.7 before, 公文書 kept "
        "in efiling's own table); before that 125.2 s (sandbox in a thread of the bench process, 公文書 fetched "
        "one at a time, load 7.8). The 109.7 s run also took 13.1 s to draft and 374 ms per filing in its "
        "baseline, code this work did not change, against 2.4–3.4 s and ≈ 100 ms in the runs since: part of the "
        "difference is the machine (the load average before a run does not capture it), not the changes above. "
        "e-Gov's real latency and capacity are unknown (EGOV-API.md §5: no rate limits published).",
        END,
    ])


def main() -> None:
    n = int(os.environ.get("BENCH_FILINGS", "1000"))
    baseline_n = int(os.environ.get("BENCH_BASELINE", "50"))
    load = os.getloadavg()[0]
    r = run(n, baseline_n)
    r["load"] = load
    r["load_after"] = os.getloadavg()[0]
    text = markdown(r, EfilingSettings().document_concurrency)
    print(text)
    if "--no-write" not in sys.argv:
        write_section("bench_efiling", text)


if __name__ == "__main__":
    main()
