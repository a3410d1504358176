"""Run every benchmark, print the figures and write docs/BENCHMARKS.md: `python -m bench.run`.

BENCH_SECONDS (default 10) and BENCH_CONNECTIONS (default 32) shorten or widen a run."""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def benches() -> list[Any]:
    """Every bench/bench_*.py; each has `main()`, which runs it and writes its own marked section
    (<!-- BEGIN bench_x --> … <!-- END bench_x -->) of docs/BENCHMARKS.md. BENCH_ONLY=gateway,login
    picks some."""
    only = {n.strip() for n in os.environ.get("BENCH_ONLY", "").split(",") if n.strip()}
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    return [importlib.import_module(f"bench.{n}") for n in names if not only or n.removeprefix("bench_") in only]


HEADER_END = "<!-- END header -->"


def write_header(text: str) -> None:
    """Replace the run header (everything before the first section); the sections stay."""
    old = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    rest = old.split(HEADER_END, 1)[1] if HEADER_END in old else (old[old.find("<!-- BEGIN"):]
                                                                  if "<!-- BEGIN" in old else "")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text.rstrip("\n") + "\n" + HEADER_END + "\n\n" + rest.lstrip("\n"), encoding="utf-8")


def main() -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"machine: {machine()}")
    load_before = os.getloadavg()[0]
    for module in benches():
        module.main()
    load_after = os.getloadavg()[0]
    write_header("\n".join([
        "# Benchmarks",
        "",
        "Written by `python -m bench.run` (`make bench`); every figure is compared with a baseline",
        "measured in the same run on the same machine, so the ratios travel better than the figures.",
        "Each benchmark writes its own section; `BENCH_ONLY=gateway` runs one and leaves the others.",
        "",
        f"Run: {when}. Machine: {machine()}. Load average (1 min) before / after the run: "
        f"{load_before:.1f} / {load_after:.1f} — anything above 0 before it means other work shared the CPU.",
    ]))
    print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
