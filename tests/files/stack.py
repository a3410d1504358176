"""The files service and the gateway as real processes (uvicorn, as deployed), for the 100 MB
tests and bench/bench_files_upload.py; memory read from /proc (VmRSS, VmHWM).

The gateway asks accounts for tenant settings; a small stand-in (tests/gateway/support.py:
Contract) answers 404 "no such tenant settings", and the request goes on, as documented."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.settings import CommonSettings
from tests.gateway.support import Contract, ServerThread
from tests.support.nats_server import free_port
from tests.support.servers import wait_ready

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
CHUNK = MIB


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass
class Growth:
    before_kib: int
    peak_kib: int

    @property
    def mib(self) -> float:
        return (self.peak_kib - self.before_kib) / 1024


def pdf_body(size: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """`size` bytes of a PDF-looking file, generated a chunk at a time (never whole)."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    filler = (b"0123456789abcdef" * (chunk // 16 + 1))[:chunk]
    sent = 0
    while sent < size:
        n = min(chunk, size - sent)
        piece = (head + filler[len(head):n]) if sent == 0 else filler[:n]
        yield piece[:n]
        sent += n


def multipart_body(name: str, size: int, boundary: str = "roumu-bench-boundary") -> tuple[Iterator[bytes], int, str]:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def gen() -> Iterator[bytes]:
        yield head
        yield from pdf_body(size)
        yield tail

    return gen(), len(head) + size + len(tail), f"multipart/form-data; boundary={boundary}"


class Stack:
    def __init__(self, tmp: Path, settings: CommonSettings, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.settings = settings
        self.extra_env = env or {}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.contract: ServerThread | None = None
        self.files_port = free_port()
        self.gateway_port = free_port()

    @property
    def files_url(self) -> str:
        return f"http://127.0.0.1:{self.files_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def files_pid(self) -> int:
        return self.procs[0].pid

    @property
    def gateway_pid(self) -> int:
        return self.procs[1].pid

    def start(self) -> Stack:
        self.contract = ServerThread(Contract(), http="httptools").start()
        huge = "100000000/minute"
        s = self.settings
        env = {**os.environ, "ROUMU_VAR_DIR": str(self.tmp), "ROUMU_KEYS_DIR": str(s.keys_dir),
               "ROUMU_NATS_URL": s.nats_url, "ROUMU_NATS_STREAM": s.nats_stream,
               "ROUMU_DATABASE_URL_TEMPLATE": s.database_url_template, "ROUMU_LOG_LEVEL": "WARNING",
               "ROUMU_FILES_STORAGE_DIR": str(self.tmp / "files-store"),
               "ROUMU_FILES_URL": self.files_url, "ROUMU_ACCOUNTS_URL": self.contract.url,
               "ROUMU_AUTH_URL": self.contract.url, "ROUMU_GATEWAY_PORT": str(self.gateway_port),
               "ROUMU_BIND_HOST": "127.0.0.1", "ROUMU_GATEWAY_WORKERS": "1",
               "ROUMU_GATEWAY_RATE_LIMIT_IP": huge, "ROUMU_GATEWAY_RATE_LIMIT_USER": huge,
               "ROUMU_GATEWAY_RATE_LIMIT_TENANT": huge, "ROUMU_GATEWAY_RATE_LIMIT_PARTNER": huge,
               **self.extra_env}
        env.pop("ROUMU_FILES_DATABASE_URL", None)
        log = (self.tmp / "stack.log").open("ab")
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "services.files.app:create_app", "--host", "127.0.0.1",
             "--port", str(self.files_port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
             "--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=log))
        self.procs.append(subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=env,
                                           stdout=log, stderr=log))
        hint = f": see {self.tmp / 'stack.log'}"
        wait_ready(f"{self.files_url}/healthz", self.procs[0], "files", log_hint=hint)
        wait_ready(f"{self.gateway_url}/readyz", self.procs[1], "gateway", log_hint=hint)
        return self

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.contract is not None:
            self.contract.stop()

    def measure(self) -> dict[str, int]:
        """Current RSS of both processes, then their peaks reset to it."""
        before = {"files": status_kib(self.files_pid, "VmRSS"), "gateway": status_kib(self.gateway_pid, "VmRSS")}
        for pid in (self.files_pid, self.gateway_pid):
            reset_peak(pid)
        return before

    def growth(self, before: dict[str, int]) -> dict[str, Growth]:
        return {"files": Growth(before["files"], status_kib(self.files_pid, "VmHWM")),
                "gateway": Growth(before["gateway"], status_kib(self.gateway_pid, "VmHWM"))}


def put_file(client: httpx.Client, base: str, token: str, size: int, name: str = "large.pdf",
             jigyosho_id: str = "J-1", file_id: str | None = None) -> httpx.Response:
    import uuid
    from urllib.parse import quote

    return client.put(f"{base}/api/v1/files/files/{file_id or uuid.uuid4()}", params={"jigyosho_id": jigyosho_id},
                      content=pdf_body(size), headers={
                          "Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream",
                          "Content-Length": str(size),
                          "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"})


def post_file(client: httpx.Client, base: str, token: str, size: int, name: str = "large.pdf",
              jigyosho_id: str = "J-1") -> httpx.Response:
    body, length, ctype = multipart_body(name, size)
    return client.post(f"{base}/api/v1/files/files", params={"jigyosho_id": jigyosho_id}, content=body,
                       headers={"Authorization": f"Bearer {token}", "Content-Type": ctype,
                                "Content-Length": str(length)})
