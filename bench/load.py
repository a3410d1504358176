"""Load generators: wrk when installed (Debian's `wrk`), otherwise an async httpx client.

Both run a fixed number of connections for a fixed time and report requests/s and p50/p99."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    unexpected: int  # responses with another status than expected, or socket errors


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError(f"unreadable latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk_script(method: str, body: str | None) -> str:
    """A request per call, `{n}` in the body replaced by a counter (each write changes something)."""
    if body is None:
        return f'wrk.method = "{method}"\n'
    head, _, tail = body.partition("{n}")
    return ("local n = 0\n"
            "request = function()\n"
            "  n = n + 1\n"
            f'  return wrk.format("{method}", nil, nil, {_lua_string(head)} .. n .. {_lua_string(tail)})\n'
            "end\n")


def run_wrk(url: str, headers: dict[str, str], seconds: int, connections: int, threads: int,
            expect_2xx: bool, method: str = "GET", body: str | None = None, lua: str | None = None) -> LoadResult:
    """`lua`: a wrk Lua script of the caller's (then `method` and `body` are its business)."""
    # A 10 s timeout: the default 2 s counts slow responses on a busy 2-core box as errors.
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8") as script:
        if method != "GET" or body is not None or lua is not None:
            script.write(lua or _wrk_script(method, body))
            script.flush()
            cmd += ["-s", script.name]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True,
                             timeout=seconds + 60).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    if not (total and rps and p50 and p99):
        raise RuntimeError("unexpected wrk output:\n" + out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = sum(int(x) for x in socket_errors.groups()) if socket_errors else 0
    n = int(total.group(1))
    if expect_2xx:
        bad += int(non2xx.group(1)) if non2xx else 0
    else:
        bad += n - (int(non2xx.group(1)) if non2xx else 0)
    return LoadResult("wrk", n, seconds, float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), bad)


async def _httpx_load(url: str, headers: dict[str, str], seconds: int, connections: int,
                      expect_2xx: bool, method: str = "GET", body: str | None = None) -> LoadResult:
    latencies: list[float] = []
    unexpected = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:
        deadline = time.perf_counter() + seconds
        counter = 0

        async def worker() -> None:
            nonlocal unexpected, counter
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                counter += 1
                content = body.replace("{n}", str(counter)).encode() if body is not None else None
                try:
                    r = await client.request(method, url, content=content)
                    ok = r.is_success == expect_2xx
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - start) * 1000)
                unexpected += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    n = len(latencies)
    return LoadResult("httpx", n, elapsed, n / elapsed, latencies[n // 2], latencies[min(n - 1, int(n * 0.99))],
                      unexpected)


def run_load(url: str, headers: dict[str, str], seconds: int, connections: int, threads: int = 2,
             expect_2xx: bool = True, method: str = "GET", body: str | None = None) -> LoadResult:
    """`body`: sent with each request, `{n}` replaced by a per-request counter."""
    if wrk_available():
        return run_wrk(url, headers, seconds, connections, threads, expect_2xx, method, body)
    return asyncio.run(_httpx_load(url, headers, seconds, connections, expect_2xx, method, body))
