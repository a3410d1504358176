"""e-Filing against the e-Gov sandbox: 1,000 filings bulk-submitted and tracked to 手続終了.

`python -m bench.bench_efiling` (BENCH_FILINGS, default 1000; BENCH_BASELINE, default 50) appends
its section to docs/BENCHMARKS.md. The sandbox runs as a real HTTP server (uvicorn, one thread);
efiling's code runs in this process against its own SQLite database; everything on 127.0.0.1.

Baseline, same run: the single-filing path (/apply/check + /apply per filing, then reading each
case), measured on BENCH_BASELINE filings and scaled per filing."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ops.migrate import migrate
from services.efiling import submission, tracking
from services.efiling.documents import LocalBlobStore
from shared.db import Database
from shared.keys import ensure_keys
from shared.settings import CommonSettings
from tests.services.efiling.support import link_account, make_egov, new_filing, tenant
from tests.services.egov_support import SandboxServer, new_account

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "BENCHMARKS.md"


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
    migrate(["efiling", "egov_sandbox"], settings)
    sandbox = SandboxServer(settings).start()
    db = Database(settings.database_url("efiling"))
    egov, _ = make_egov(settings, sandbox, bulk_chunk_size=500)
    store = LocalBlobStore()
    try:
        # baseline: one by one
        t, acct = tenant(), new_account()
        acct_id = link_account(db, egov, sandbox, t, acct)
        ids = [new_filing(db, egov, t, acct_id) for _ in range(baseline_n)]
        t0 = time.perf_counter()
        for fid in ids:
            submission.submit(db, egov, fid)
        _track_all(db, egov, store, ids)
        single = time.perf_counter() - t0

        t, acct = tenant(), new_account()
        acct_id = link_account(db, egov, sandbox, t, acct)
        t0 = time.perf_counter()
        ids = [new_filing(db, egov, t, acct_id) for _ in range(n)]
        drafted = time.perf_counter() - t0
        t1 = time.perf_counter()
        submission.bulk_submit(db, egov, ids)
        submitted = time.perf_counter() - t1
        t2 = time.perf_counter()
        passes, left = _track_all(db, egov, store, ids)
        tracked = time.perf_counter() - t2
        cases = sandbox.cases(acct)
        arrive_ids = [c["arrive_id"] for c in cases]
        return {"n": n, "drafted_s": drafted, "submitted_s": submitted, "tracked_s": tracked,
                "total_s": submitted + tracked, "passes": passes, "left": left, "arrivals": len(cases),
                "duplicates": len(arrive_ids) - len(set(arrive_ids)) + max(0, len(cases) - n),
                "finished": sum(1 for c in cases if c["status"] == "手続終了"),
                "baseline_n": baseline_n, "baseline_s": single, "baseline_per_filing_s": single / baseline_n}
    finally:
        egov.http.close()
        db.dispose()
        sandbox.stop()


def markdown(r: dict[str, float]) -> str:
    scaled = r["baseline_per_filing_s"] * r["n"]
    return "\n".join([
        "## e-Filing: bulk submission and tracking against the sandbox (bench/bench_efiling.py)",
        "",
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}, load average before: {os.getloadavg()[0]:.1f}. Method: the "
        "e-Gov sandbox as a real HTTP server (uvicorn, one thread, SQLite); efiling's code in the bench process on "
        "SQLite; packages built from 資格取得届 form data; `/bulk-apply` in sends of 500, mapped back through "
        "`/apply/report`; tracked with `/apply/lists?send_number=` (50 a page; the sandbox moves each listed case "
        "one scripted step: 到達 → 審査中 → 手続終了 with a signed 公文書); each 公文書 downloaded, its XMLDSig "
        "checked locally and by `/official_document/verify`, stored, completed. Goal: ≤ 60 s and 0 duplicates.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| filings | {int(r['n'])} |",
        f"| drafting (form data sealed, package built once for validation) | {r['drafted_s']:.1f} s |",
        f"| bulk submission (build, write-before-call, /bulk-apply, report mapping) | {r['submitted_s']:.1f} s |",
        f"| tracking to 手続終了 incl. 公文書 ({int(r['passes'])} poller passes) | {r['tracked_s']:.1f} s |",
        f"| **submission + tracking** | **{r['total_s']:.1f} s** |",
        f"| arrivals at the sandbox / finished (手続終了) | {int(r['arrivals'])} / {int(r['finished'])} |",
        f"| duplicate arrivals | {int(r['duplicates'])} |",
        f"| baseline: one by one (/apply/check + /apply, then per-case reads), {int(r['baseline_n'])} filings | "
        f"{r['baseline_s']:.1f} s ({r['baseline_per_filing_s'] * 1000:.0f} ms per filing; ≈ {scaled:.0f} s "
        f"for {int(r['n'])}) |",
        "",
    ])


def main() -> None:
    n = int(os.environ.get("BENCH_FILINGS", "1000"))
    baseline_n = int(os.environ.get("BENCH_BASELINE", "50"))
    r = run(n, baseline_n)
    text = markdown(r)
    print(text)
    if "--no-write" not in sys.argv:
        with OUT.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
