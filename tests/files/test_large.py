"""100 MB through the real gateway and the real files service (separate processes): exactly
100 MB accepted, 100 MB + 1 byte refused with problem+json, and the memory growth of both
processes under 64 MB while they stream it (VmHWM after, against VmRSS before, from /proc)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.files.settings import MAX_FILE_BYTES
from shared.settings import CommonSettings
from tests.files.stack import Stack, pdf_body, post_file, put_file, reset_peak
from tests.files.support import tenant as new_tenant

LIMIT_MIB = 64
pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for memory")


@pytest.fixture(scope="module")
def stack(settings: CommonSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("files-stack"), settings).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=300) as c:
        yield c


def test_peak_reset_is_available(stack):
    assert reset_peak(stack.files_pid), "VmHWM cannot be reset: the growth figure would include start-up"


@pytest.mark.parametrize("via", ["put", "multipart"])
def test_exactly_100_mb_through_the_gateway_within_64_mb(stack, tokens, client, via):
    token = tokens.user(new_tenant())
    send = put_file if via == "put" else post_file
    assert send(client, stack.gateway_url, token, 1000).status_code == 201  # warm: imports, pools, keys
    before = stack.measure()
    r = send(client, stack.gateway_url, token, MAX_FILE_BYTES)
    growth = stack.growth(before)
    assert r.status_code == 201, r.text
    f = r.json()
    expected = hashlib.sha256()
    for chunk in pdf_body(MAX_FILE_BYTES):
        expected.update(chunk)
    assert f["size_bytes"] == MAX_FILE_BYTES and f["sha256"] == expected.hexdigest()
    for name, g in growth.items():
        print(f"{via}: {name} grew {g.mib:.1f} MiB (RSS {g.before_kib / 1024:.1f} → peak {g.peak_kib / 1024:.1f})")
        assert g.mib < LIMIT_MIB, f"{name} grew {g.mib:.1f} MiB during a 100 MB upload"

    # And back: streamed through the gateway, decrypted segment by segment.
    before = stack.measure()
    got = hashlib.sha256()
    with client.stream("GET", f"{stack.gateway_url}/api/v1/files/files/{f['id']}/content",
                       headers={"Authorization": f"Bearer {token}"}) as d:
        assert d.status_code == 200
        assert d.headers["content-length"] == str(MAX_FILE_BYTES)
        assert d.headers["x-content-type-options"] == "nosniff"
        for chunk in d.iter_bytes():
            got.update(chunk)
    assert got.hexdigest() == f["sha256"]
    for name, g in stack.growth(before).items():
        assert g.mib < LIMIT_MIB, f"{name} grew {g.mib:.1f} MiB during a 100 MB download"


@pytest.mark.parametrize("via", ["put", "multipart"])
def test_100_mb_plus_one_byte_is_refused(stack, tokens, client, via):
    token = tokens.user(new_tenant())
    send = put_file if via == "put" else post_file
    r = send(client, stack.gateway_url, token, MAX_FILE_BYTES + 1)
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/file-too-large") and body["limit_bytes"] == MAX_FILE_BYTES
    listed = client.get(f"{stack.gateway_url}/api/v1/files/files", headers={"Authorization": f"Bearer {token}"})
    assert listed.json()["items"] == []


def test_signed_link_and_download_headers_through_the_gateway(stack, tokens, client):
    token = tokens.user(new_tenant())
    r = put_file(client, stack.gateway_url, token, 5000, name="資格取得届.pdf")
    assert r.status_code == 201, r.text
    link = client.post(f"{stack.gateway_url}/api/v1/files/files/{r.json()['id']}/download-link",
                       headers={"Authorization": f"Bearer {token}"})
    assert link.status_code == 200, link.text
    d = client.get(stack.gateway_url + link.json()["url"])  # no token: the link is the permission
    assert d.status_code == 200 and len(d.content) == 5000
    assert d.headers["content-type"] == "application/pdf"
    assert d.headers["x-content-type-options"] == "nosniff"
    assert d.headers["content-disposition"].endswith(
        "filename*=UTF-8''%E8%B3%87%E6%A0%BC%E5%8F%96%E5%BE%97%E5%B1%8A.pdf")
    url = link.json()["url"]
    bad = client.get(stack.gateway_url + url[:-2] + ("xx" if not url.endswith("xx") else "yy"))
    assert bad.status_code == 403 and bad.headers["content-type"].startswith("application/problem+json")
