"""Run every benchmark, print the figures and write docs/BENCHMARKS.md: `python -m bench.run`.

BENCH_SECONDS (default 10) and BENCH_CONNECTIONS (default 32) shorten or widen a run."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench import bench_gateway

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "BENCHMARKS.md"


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    wrk = ""
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout.split("[")[0]
    except FileNotFoundError:
        wrk = "async httpx client (wrk not installed)"
    return (f"{os.cpu_count()} cores ({cpu}){mem}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}; load generator: {wrk.strip()}")


def main() -> None:
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"machine: {machine()}")
    load_before = os.getloadavg()[0]
    pairs = bench_gateway.run(seconds, connections)
    load_after = os.getloadavg()[0]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join([
        "# Benchmarks",
        "",
        "Written by `python -m bench.run` (`make bench`); every figure is compared with a baseline",
        "measured in the same run on the same machine, so the ratios travel better than the figures.",
        "",
        f"Run: {when}. Machine: {machine()}. Load average (1 min) before / after the run: "
        f"{load_before:.1f} / {load_after:.1f} — anything above 0 before it means other work shared the CPU.",
        "",
        bench_gateway.markdown(pairs, seconds, connections),
        "",
    ]), encoding="utf-8")
    print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
