"""Many services start at once and each ensures the keys: none may trip over another's write."""

from concurrent.futures import ThreadPoolExecutor

from shared.keys import ensure_keys, load_public_keys, load_signing_keys


def test_concurrent_ensure_keys_is_safe(tmp_path):
    keys = tmp_path / "keys"
    ensure_keys(keys)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: ensure_keys(keys), range(32)))
    assert {use for use, _ in load_public_keys(keys).values()} == {"access", "internal"}
    assert len(load_signing_keys(keys, "access")) == 1
    assert not list(keys.glob("*.tmp"))


def _ensure_certificate_key(keys_dir: str, barrier) -> str:
    from pathlib import Path

    from shared.keys import ensure_key

    barrier.wait()
    return ensure_key(Path(keys_dir), "certificate").kid


def test_replicas_starting_together_on_a_fresh_folder_share_one_key(tmp_path):
    """Two replicas of accounts created the `certificate` key at once (make run REPLICAS=2): one read
    the other's half-written PEM and failed its start. Processes, not threads: as replicas are."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    for attempt in range(5):
        keys = tmp_path / f"keys-{attempt}"
        keys.mkdir()
        barrier = ctx.Manager().Barrier(6)
        with ctx.Pool(6) as pool:
            kids = pool.starmap(_ensure_certificate_key, [(str(keys), barrier)] * 6)
        assert len(set(kids)) == 1  # one key, the same for all
        assert len(load_signing_keys(keys, "certificate")) == 1
        assert not list(keys.glob("*.tmp"))
