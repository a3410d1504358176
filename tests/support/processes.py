"""Processes seen through /proc (Linux): whether one still runs, and the fetch processes
(shared/fetch_process.py) a test process has started and not yet seen end."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> list[str]:
    # Fields after the command name, which may itself hold spaces and parentheses.
    return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """Running; an exited process not yet reaped by its parent (a zombie) counts as gone."""
    try:
        return _stat(pid)[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def fetch_children(parent: int | None = None) -> list[int]:
    """Live fetch processes whose parent is `parent` (this process by default)."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
            if int(fields[1]) != parent or fields[0] == "Z":
                continue
            if b"shared.fetch_process" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return found
