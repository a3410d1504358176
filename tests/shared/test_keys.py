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
