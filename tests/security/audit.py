"""`make audit`: a vulnerability audit of the pinned dependencies (pyproject.toml) with pip-audit.

Online, pip-audit asks the PyPI/OSV vulnerability database. When it cannot be reached the audit
says so plainly and exits 2 (not 0: an audit that did not run is not a clean audit), unless
ROUMU_AUDIT_OFFLINE_OK=1, when it exits 0 after saying so (CI machines without outside access).
The pins are read from pyproject.toml, so what is audited is exactly what `make install` installs."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pinned() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        deps += extra
    return [d for d in deps if "==" in d]


def main() -> int:
    reqs = pinned()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(reqs) + "\n")
        path = f.name
    cmd = [sys.executable, "-m", "pip_audit", "--requirement", path, "--no-deps", "--disable-pip",
           "--progress-spinner", "off", "--timeout", "20", "--vulnerability-service",
           os.environ.get("ROUMU_AUDIT_SERVICE", "osv")]
    print(f"auditing {len(reqs)} pinned packages: {' '.join(cmd[2:])}", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    os.unlink(path)
    sys.stdout.write(proc.stdout)
    err = proc.stderr
    # The PyPI JSON API answering "not found" for every pin means the database was not reached
    # (a mirror or proxy that serves packages only), not that they are clean.
    not_audited = [line for line in (proc.stdout + err).splitlines() if "could not be audited" in line]
    unreachable = len(not_audited) >= len(reqs) // 2
    network = ("ConnectionError", "Max retries exceeded", "NameResolutionError", "Failed to establish",
               "Temporary failure in name resolution", "ConnectTimeout", "ReadTimeout")
    unreachable = unreachable or any(s in err for s in network)
    if not_audited and not unreachable:
        print(f"make audit: {len(not_audited)} packages could not be audited (listed above)", file=sys.stderr)
    if unreachable:
        print("make audit: the vulnerability database could not be reached (offline?): NOT AUDITED.\n"
              "Run it again where PyPI/OSV is reachable; pip-audit keeps a cache under ~/.cache/pip-audit.",
              file=sys.stderr)
        return 0 if os.environ.get("ROUMU_AUDIT_OFFLINE_OK") == "1" else 2
    sys.stderr.write(err)
    if proc.returncode == 0:
        print("make audit: no known vulnerabilities in the pinned dependencies")
    else:
        print("make audit: vulnerabilities found (above): upgrade the pins within the week (docs/operations.md)")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
