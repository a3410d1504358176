"""Secret files created by whichever process starts first are never seen empty or half-written: a CI
run saw efiling fail its start reading an empty data-key file that another service had just created."""

from __future__ import annotations

import threading
from pathlib import Path

from shared.private_files import create_once


def _race(path: Path, bodies: list[bytes]) -> tuple[list[bool], list[bytes]]:
    """Every body written at once by its own thread while two threads read: (created?, what was read)."""
    created: list[bool] = []
    seen: list[bytes] = []
    start = threading.Barrier(len(bodies) + 2)

    def write(body: bytes) -> None:
        start.wait()
        created.append(create_once(path, body))

    def read() -> None:
        start.wait()
        for _ in range(2000):
            if path.exists():
                seen.append(path.read_bytes())

    threads = [threading.Thread(target=write, args=(b,)) for b in bodies]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return created, seen


def test_many_creators_at_once_leave_one_whole_file_and_readers_never_see_it_partial(tmp_path: Path) -> None:
    for round_ in range(20):
        path = tmp_path / f"data-keys-{round_}.json"
        bodies = [(f'{{"writer": {i}, "pad": "' + "x" * 4096 + '"}').encode() for i in range(8)]
        created, seen = _race(path, bodies)
        assert created.count(True) == 1
        assert path.read_bytes() in bodies
        assert all(s == path.read_bytes() for s in seen), "a reader saw the file before it was whole"
        assert path.stat().st_mode & 0o077 == 0
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
