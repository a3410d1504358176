"""The encrypted archive: round trip, and every way of damaging it is caught."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

import pytest

from ops.backup.archive import (
    ArchiveError,
    BackupKeys,
    archive_kid,
    describe_members,
    open_archive,
    rewrap,
    stage_member,
    write_archive,
)

SEG = 4096


def new_keys(kid: str = "k1") -> BackupKeys:
    return BackupKeys.parse(f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}")


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, BackupKeys, dict[str, bytes]]:
    staging = tmp_path / "staging"
    bodies = {"db/a.sqlite": os.urandom(3 * SEG + 17), "files/x/y.txt": b"hello", "files/empty": b"",
              "db/exact.pgdump": os.urandom(2 * SEG)}
    for name, body in bodies.items():
        stage_member(staging, name).write_bytes(body)
    keys = new_keys()
    manifest = {"members": describe_members(staging, list(bodies))}
    write_archive(tmp_path / "a.rbk", keys, "backup-1", manifest, staging, SEG)
    return tmp_path / "a.rbk", keys, bodies


def test_round_trip_extracts_every_member_byte_for_byte(built, tmp_path):
    path, keys, bodies = built
    manifest = open_archive(path, keys, extract_to=tmp_path / "out")
    assert set(manifest["members"]) == set(bodies)
    for name, body in bodies.items():
        assert (tmp_path / "out" / name).read_bytes() == body


def test_a_plain_base64_key_gets_a_derived_id():
    raw = secrets.token_bytes(32)
    keys = BackupKeys.parse(base64.b64encode(raw).decode())
    assert keys.current[0].startswith("bk-") and keys.current[1] == raw
    with pytest.raises(ValueError):
        BackupKeys.parse(base64.b64encode(b"short").decode())


@pytest.mark.parametrize("cut", ["last byte", "final segment", "two segments", "header"])
def test_truncation_is_detected(built, cut):
    path, keys, _ = built
    data = path.read_bytes()
    n = {"last byte": 1, "final segment": len(data) % (SEG + 16) or SEG + 16,
         "two segments": (len(data) % (SEG + 16)) + SEG + 16, "header": len(data) - 20}[cut]
    path.write_bytes(data[:-n])
    with pytest.raises(ArchiveError):
        open_archive(path, keys)


@pytest.mark.parametrize("where", [0.3, 0.6, 0.99])
def test_a_flipped_bit_anywhere_in_the_body_is_detected(built, where):
    path, keys, _ = built
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError):
        open_archive(path, keys)


def test_appended_or_reordered_segments_are_detected(built):
    path, keys, _ = built
    data = path.read_bytes()
    path.write_bytes(data + data[-(SEG + 16):])
    with pytest.raises(ArchiveError):
        open_archive(path, keys)


def test_a_wrong_or_unknown_key_does_not_open_it(built):
    path, _, _ = built
    with pytest.raises(ArchiveError, match="not configured"):
        open_archive(path, new_keys("other"))
    with pytest.raises(ArchiveError, match="does not unwrap"):
        open_archive(path, new_keys("k1"))  # same id, another key


def test_a_member_differing_from_its_manifest_is_detected(tmp_path):
    staging = tmp_path / "s"
    stage_member(staging, "db/a.sqlite").write_bytes(b"one")
    manifest = {"members": describe_members(staging, ["db/a.sqlite"])}
    stage_member(staging, "db/a.sqlite").write_bytes(b"two")  # changed after the manifest was made
    keys = new_keys()
    write_archive(tmp_path / "a.rbk", keys, "b", manifest, staging, SEG)
    with pytest.raises(ArchiveError, match="checksum differs"):
        open_archive(tmp_path / "a.rbk", keys)


def test_rotation_rewraps_the_header_only_and_old_keys_still_open_old_archives(built):
    path, old, bodies = built
    body_before = path.read_bytes()[-(SEG * 2):]
    rotated = BackupKeys((new_keys("k2").current, *old.keys))  # newest first, the old one still listed
    assert rewrap(path, rotated) is True
    assert archive_kid(path) == "k2"
    assert path.read_bytes()[-(SEG * 2):] == body_before  # the body was not re-encrypted
    assert set(open_archive(path, rotated)["members"]) == set(bodies)
    assert set(open_archive(path, BackupKeys((rotated.current,)))["members"]) == set(bodies)
    assert rewrap(path, rotated) is False
    with pytest.raises(ArchiveError):
        open_archive(path, old)  # the old key alone no longer opens it


def test_the_manifest_comes_first_and_names_no_secret(built, tmp_path):
    path, keys, _ = built
    manifest = open_archive(path, keys)
    assert json.dumps(manifest)  # plain data
    assert all(len(m["sha256"]) == 64 for m in manifest["members"].values())
