"""Encryption at rest (chunked AEAD), the key hierarchy, signed links, clamd replies, SigV4."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

import pytest

from services.files.links import LinkClaims, LinkError, sign_link, verify_link
from services.files.scanner import ScannerUnavailable, parse_reply
from services.files.segments import HEADER_LEN, TAG, SealedReader, SealError, SealingWriter, sealed_size, unseal_stream
from services.files.storage import LocalStore, object_key, sigv4_headers, tenant_prefix
from shared.crypto import DataKeys

SEG = 1024
KEY = bytes(range(32))


def seal(data: bytes, aad: bytes = b"f1", segment: int = SEG, chunk: int = 777) -> bytes:
    out = io.BytesIO()
    w = SealingWriter(out, KEY, aad, segment)
    for i in range(0, len(data), chunk):
        w.write(data[i:i + chunk])
    w.close()
    return out.getvalue()


def unseal(sealed: bytes, aad: bytes = b"f1") -> bytes:
    return b"".join(unseal_stream(iter([sealed[i:i + 500] for i in range(0, len(sealed), 500)]), KEY,
                                  len(sealed), aad))


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 5])
def test_round_trip_and_random_access(size):
    data = os.urandom(size)
    sealed = seal(data)
    assert len(sealed) == sealed_size(size, SEG)
    assert unseal(sealed) == data
    r = SealedReader(io.BytesIO(sealed), KEY, b"f1")
    assert r.size == size and r.read() == data
    if size > 10:
        r.seek(size // 2)
        assert r.read(7) == data[size // 2:size // 2 + 7]
        r.seek(-3, os.SEEK_END)
        assert r.read() == data[-3:]


def test_truncation_at_a_segment_boundary_is_detected():
    sealed = seal(os.urandom(3 * SEG))
    cut = sealed[:HEADER_LEN + 2 * (SEG + TAG)]  # two whole segments, the final one gone
    with pytest.raises(SealError):
        unseal(cut)
    with pytest.raises(SealError):
        SealedReader(io.BytesIO(cut), KEY, b"f1").read()


def test_reordered_tampered_extended_or_moved_segments_fail():
    sealed = bytearray(seal(os.urandom(3 * SEG)))
    seg = SEG + TAG
    swapped = bytes(sealed[:HEADER_LEN]) + bytes(sealed[HEADER_LEN + seg:HEADER_LEN + 2 * seg]) + \
        bytes(sealed[HEADER_LEN:HEADER_LEN + seg]) + bytes(sealed[HEADER_LEN + 2 * seg:])
    flipped = bytearray(sealed)
    flipped[HEADER_LEN + 10] ^= 1
    for bad in (swapped, bytes(flipped), bytes(sealed) + b"x" * 40):
        with pytest.raises(SealError):
            unseal(bad)
    with pytest.raises(SealError):
        unseal(bytes(sealed), aad=b"another-file")


def test_key_hierarchy_wraps_and_binds(tmp_path):
    from services.files import keys

    tkey = os.urandom(32)
    fkey = os.urandom(32)
    wrapped = keys.wrap_file_key(tkey, fkey, "t1", "f1")
    assert keys.unwrap_file_key(tkey, wrapped, "t1", "f1") == fkey
    from shared.crypto import CryptoError

    with pytest.raises(CryptoError):
        keys.unwrap_file_key(tkey, wrapped, "t2", "f1")
    with pytest.raises(CryptoError):
        keys.unwrap_file_key(os.urandom(32), wrapped, "t1", "f1")


def test_signed_links_are_bound_and_expire():
    dk = DataKeys((("k1", os.urandom(32)),))
    now = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    claims = LinkClaims("f1", "t1", int((now + timedelta(minutes=5)).timestamp()), "user", "u-1")
    token = sign_link(dk, claims)
    assert verify_link(dk, token, now) == claims
    with pytest.raises(LinkError):
        verify_link(dk, token, now + timedelta(minutes=5))
    body, mac = token.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    for bad in (forged, body + ".", "x.y", "", token + "x"):
        with pytest.raises(LinkError):
            verify_link(dk, bad, now)
    # Rotation: the old key still verifies links it signed; another deployment's keys do not.
    rotated = DataKeys((("k2", os.urandom(32)), *dk.keys))
    assert verify_link(rotated, token, now) == claims
    with pytest.raises(LinkError):
        verify_link(DataKeys((("k1", os.urandom(32)),)), token, now)


@pytest.mark.parametrize(("reply", "clean", "sig"), [
    ("stream: OK", True, None),
    ("stream: Eicar-Signature FOUND", False, "Eicar-Signature"),
    ("stream: Win.Test.EICAR_HDB-1 FOUND", False, "Win.Test.EICAR_HDB-1"),
])
def test_clamd_replies(reply, clean, sig):
    r = parse_reply(reply)
    assert (r.clean, r.signature) == (clean, sig)


@pytest.mark.parametrize("reply", ["INSTREAM size limit exceeded. ERROR", "", "stream: lstat() failed ERROR"])
def test_clamd_non_verdicts_are_not_clean(reply):
    with pytest.raises(ScannerUnavailable):
        parse_reply(reply)


def test_object_keys_never_come_from_names(tmp_path):
    with pytest.raises(ValueError):
        object_key("t1", "../../etc/passwd")
    key = object_key("t1", "3f2b1c9e-8d6a-4c1b-9f0e-2a3b4c5d6e7f")
    assert key.startswith(tenant_prefix("t1") + "/") and ".." not in key
    store = LocalStore(tmp_path)
    src = tmp_path / "x.sealed"
    src.write_bytes(b"abc")
    store.put(key, src)
    assert b"".join(store.chunks(key)) == b"abc" and not src.exists()
    assert (os.stat(tmp_path / "objects" / key).st_mode & 0o777) == 0o600
    with pytest.raises(ValueError):
        store.chunks("../x").__next__()
    assert store.delete_prefix(tenant_prefix("t1")) == 1 and not store.exists(key)


def test_sigv4_matches_the_aws_documented_example():
    """AWS S3 docs, "Signature Calculations for the Authorization Header", GET Object example."""
    headers = sigv4_headers(
        "GET", "examplebucket.s3.amazonaws.com", "/test.txt", {}, {"Range": "bytes=0-9"},
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1",
        datetime(2013, 5, 24, tzinfo=UTC))
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
