"""What every benchmark shares: waiting for a started server (tests.support.servers), and writing its own section of
docs/BENCHMARKS.md between its markers (<!-- BEGIN bench_x --> … <!-- END bench_x -->)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.servers import wait_ready

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "BENCHMARKS.md"


def markers(name: str) -> tuple[str, str]:
    """The markers of a benchmark's section, by its module name (`bench_gateway`)."""
    return f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"


def write_section(name: str, section: str, out: Path = OUT) -> None:
    """Replace this benchmark's section of the file, or append it; the rest stays. `section` may
    carry its markers already or not."""
    begin, end = markers(name)
    body = section.strip("\n")
    if not body.startswith(begin):
        body = f"{begin}\n{body}\n{end}"
    text = out.read_text(encoding="utf-8") if out.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + body + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    out.write_text(text, encoding="utf-8")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a server the bench started, SIGKILL it after 15 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


__all__ = ["OUT", "ROOT", "markers", "stop_process", "wait_ready", "write_section"]
