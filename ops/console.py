"""The staff console's build (web/ → web/dist, which the gateway serves at "/").

`python -m ops.console build`: `npm ci` from the committed lockfile (only when the lockfile changed),
then the Vite build (which first regenerates the typed API client from contracts/openapi and type
checks it) — only when web/'s sources or the contracts it is generated from changed since the last
build (a stamp in web/dist). `make run` calls it.

`python -m ops.console test`: the build when needed, then the type check and the unit tests
(vitest). `make test` calls it before pytest (whose tests/e2e/test_console_browser.py drives the
built console in headless Chromium)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
DIST = WEB / "dist"
STAMP = DIST / ".build-stamp"
LOCK_STAMP = WEB / "node_modules" / ".roumu-lock-stamp"
# The contracts `npm run gen` makes the console's clients from (web/package.json).
CLIENTS = ("auth", "accounts", "audit_log", "webhooks", "koyo_hoken", "efiling")
CONTRACTS = [ROOT / "contracts" / "openapi" / f"{name}.json" for name in CLIENTS]
MIN_NODE = (20, 19)


class ConsoleError(RuntimeError):
    pass


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def sources() -> list[Path]:
    generated = WEB / "src" / "api" / "generated"
    files = [p for p in (WEB / "src").rglob("*") if p.is_file() and generated not in p.parents]
    top = [WEB / n for n in ("package.json", "package-lock.json", "index.html", "vite.config.ts", "tsconfig.json")]
    public = [p for p in (WEB / "public").rglob("*") if p.is_file()] if (WEB / "public").is_dir() else []
    return [p for p in top if p.exists()] + files + public + CONTRACTS


def _npm() -> str:
    npm = shutil.which("npm")
    node = shutil.which("node")
    if npm is None or node is None:
        raise ConsoleError("Node.js 20.19 以降（npm 付き）が必要です: the console is built with npm (README)")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603 - node found on PATH, fixed arguments
    major, minor = (int(x) for x in out.lstrip("v").split(".")[:2])
    if (major, minor) < MIN_NODE:
        raise ConsoleError(f"Node.js {out} is too old: the console needs 20.19 or newer")
    return npm


def _run(args: list[str]) -> None:
    result = subprocess.run(args, cwd=WEB, check=False)  # noqa: S603 - npm found on PATH, fixed arguments
    if result.returncode != 0:
        raise ConsoleError(f"{' '.join(args[1:])} failed (exit {result.returncode})")


def install(npm: str) -> None:
    lock = _digest([WEB / "package-lock.json"])
    if LOCK_STAMP.exists() and LOCK_STAMP.read_text() == lock:
        return
    _run([npm, "ci", "--no-audit", "--no-fund"])
    LOCK_STAMP.write_text(lock)


def build(force: bool = False) -> bool:
    """Builds when the sources changed; True when it did."""
    digest = _digest(sources())
    if not force and STAMP.exists() and STAMP.read_text() == digest and (DIST / "index.html").exists():
        return False
    npm = _npm()
    install(npm)
    _run([npm, "run", "build"])
    STAMP.write_text(digest)
    return True


def test() -> None:
    npm = _npm()
    build()
    _run([npm, "run", "typecheck"])
    _run([npm, "test"])


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "build"
    try:
        if command == "build":
            print("console: built web/dist" if build("--force" in argv) else "console: web/dist is up to date",
                  flush=True)
        elif command == "test":
            test()
        else:
            print(f"usage: python -m ops.console build [--force] | test (not {command!r})", file=sys.stderr)
            return 2
    except ConsoleError as exc:
        print(f"console: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
