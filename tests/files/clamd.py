"""A real clamd for the tests, started by the test fixture itself with a signature database the
test writes (no internet, no freshclam): one ClamAV body signature (.ndb) for the EICAR test
string. Only the `clamd` binary is needed (Debian: `apt-get install -y clamav-daemon`); where it is
missing the scanning tests are skipped with that reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from services.files.scanner import ClamdScanner
from tests.files.samples import EICAR

SIGNATURE = "Roumu.Test.EICAR"


def clamd_binary() -> str | None:
    found = shutil.which("clamd")
    if found:
        return found
    return "/usr/sbin/clamd" if os.access("/usr/sbin/clamd", os.X_OK) else None


class ClamdServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "clamd.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, binary: str) -> ClamdServer:
        db = self.root / "db"
        db.mkdir(parents=True, exist_ok=True)
        # Name:TargetType(0 = any file):Offset(* = anywhere):hex body. Anywhere, unlike the EICAR
        # convention (start of file), so the string can ride inside files that pass the type checks
        # (a PDF, a ZIP member), which is how real malware arrives.
        (db / "roumu-test.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
        conf = self.root / "clamd.conf"
        lines = [
            f"DatabaseDirectory {db}",
            f"LocalSocket {self.socket}",
            "Foreground yes",
            f"LogFile {self.root / 'clamd.log'}",
            # Above the 100 MB upload limit, so a full-size file gets a verdict, not a size error.
            "StreamMaxLength 101M",
            "MaxFileSize 101M",
            "MaxScanSize 400M",
            # Over-limit or encrypted content is flagged instead of passing unscanned.
            "AlertExceedsMax yes",
            "AlertEncrypted yes",
        ]
        if os.geteuid() == 0:
            lines.append("User root")
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=(self.root / "clamd.err").open("wb"))
        scanner = self.scanner()
        deadline = time.monotonic() + 120  # a guard against a hang, not a timing check
        while not scanner.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "clamd.err").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"clamd did not start: {log}")
            time.sleep(0.1)
        return self

    def scanner(self) -> ClamdScanner:
        return ClamdScanner(f"unix:{self.socket}", timeout=120)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
