"""Where sealed files live: a local folder (default) or an S3-compatible object store.

Object keys are made by the service (`object_key`: a hash of the tenant id and the file id), never
from a file name, so nothing a user types becomes a path (ASVS 12.3.1). Only sealed bytes are
stored (segments.py); uploads in flight are sealed into a local temporary folder and then moved
(local) or sent (S3) into place."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote
from xml.etree import ElementTree

import httpx

_READ = 1 << 20


def tenant_prefix(tenant_id: str) -> str:
    return hashlib.sha256(f"roumu-files:{tenant_id}".encode()).hexdigest()[:32]


def object_key(tenant_id: str, file_id: str) -> str:
    uuid.UUID(file_id)  # ids only: never a name
    return f"{tenant_prefix(tenant_id)}/{file_id}"


class BlobStore(Protocol):
    def put(self, key: str, sealed: Path) -> None:
        """Move/upload the sealed temporary file into place (the temporary file is gone after)."""

    def chunks(self, key: str) -> Iterator[bytes]:
        """The stored bytes, front to back (local: FileNotFoundError, S3: S3Error 404 when gone)."""

    def delete(self, key: str) -> None:
        """Remove one object (no error when it is already gone)."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix/` (tenant purge); answers how many."""


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class LocalStore:
    """A folder outside any web root (ASVS 12.4.1), files 0600, folders 0700."""

    def __init__(self, root: Path) -> None:
        self.root = _private_dir(root / "objects")

    def _path(self, key: str) -> Path:
        prefix, _, name = key.partition("/")
        if not prefix.isalnum() or not name or "/" in name or name.startswith("."):
            raise ValueError("bad object key")
        return self.root / prefix / name

    def put(self, key: str, sealed: Path) -> None:
        dest = self._path(key)
        _private_dir(dest.parent)
        os.chmod(sealed, 0o600)
        try:
            os.replace(sealed, dest)
        except OSError:  # another filesystem: copy, then remove
            shutil.copyfile(sealed, dest)
            os.chmod(dest, 0o600)
            sealed.unlink(missing_ok=True)

    def chunks(self, key: str) -> Iterator[bytes]:
        with self._path(key).open("rb") as f:
            while chunk := f.read(_READ):
                yield chunk

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        folder = self.root / prefix
        if not prefix.isalnum() or not folder.is_dir():
            return 0
        n = sum(1 for p in folder.iterdir() if p.is_file())
        shutil.rmtree(folder)
        return n

    def exists(self, key: str) -> bool:
        return self._path(key).exists()


# --- S3 (Signature Version 4, path-style; AWS S3, MinIO, Ceph RGW, ...) ---------------------

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(method: str, host: str, path: str, query: dict[str, str], headers: dict[str, str],
                  payload_sha256: str, access_key: str, secret_key: str, region: str, when: datetime,
                  service: str = "s3") -> dict[str, str]:
    """The headers that sign one request (AWS Signature Version 4): x-amz-date,
    x-amz-content-sha256 and Authorization. `path` is already URI-encoded."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): v.strip() for k, v in headers.items()}
    signed |= {"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256}
    names = sorted(signed)
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))
    canonical = "\n".join([method, path, canonical_query, *(f"{n}:{signed[n]}" for n in names), "",
                           ";".join(names), payload_sha256])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {"x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                             f"SignedHeaders={';'.join(names)}, Signature={signature}"}


class S3Error(RuntimeError):
    """An S3-compatible store refused a request. `code` is the store's own error code
    (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied, NoSuchBucket, RequestTimeTooSkewed,
    ...), so a wrong key, a wrong secret or a missing bucket says so instead of a bare 403/404."""

    def __init__(self, method: str, path: str, status: int, code: str, message: str, request_id: str) -> None:
        self.status = status
        self.code = code
        self.request_id = request_id
        super().__init__(f"S3 {method} {path}: {status} {code or 'error'}"
                         + (f" ({message})" if message else "") + (f" request id {request_id}" if request_id else ""))


def _canonical_query(query: dict[str, str]) -> str:
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))


class S3Store:
    """Path-style requests to `endpoint/bucket/prefix+key`; uploads are streamed from the sealed
    temporary file with UNSIGNED-PAYLOAD (the body is sealed and authenticated by us anyway; use
    https), downloads streamed. Tested against moto's S3 server (tests/files/test_s3.py)."""

    def __init__(self, endpoint: str, bucket: str, access_key: str, secret_key: str, region: str = "us-east-1",
                 prefix: str = "files/", timeout: float = 60.0, list_page_size: int = 1000) -> None:
        if not 1 <= list_page_size <= 1000:
            raise ValueError("list_page_size: 1..1000 (S3's max-keys)")
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.list_page_size = list_page_size
        self._access = access_key
        self._secret = secret_key
        self._client = httpx.Client(timeout=timeout)

    def _request(self, method: str, key: str | None, *, query: dict[str, str] | None = None,
                 content: object = None, headers: dict[str, str] | None = None, stream: bool = False,
                 payload: str = EMPTY_SHA256) -> httpx.Response:
        path = f"/{quote(self.bucket)}" + (f"/{quote(self.prefix + key, safe='/-_.~')}" if key is not None else "")
        canonical_query = _canonical_query(query or {})
        extra = headers or {}
        # The query goes on the wire exactly as it is signed (httpx's own encoding writes a space
        # as "+"), and the Host signed is the one httpx sends (default ports dropped).
        url = self.endpoint + path + (f"?{canonical_query}" if canonical_query else "")
        request = self._client.build_request(method, url, headers=extra, content=content)  # type: ignore[arg-type]
        signed = sigv4_headers(method, request.headers["host"], path, query or {}, extra, payload, self._access,
                               self._secret, self.region, datetime.now(UTC))
        request.headers.update(signed)
        return self._client.send(request, stream=stream)

    @staticmethod
    def _check(r: httpx.Response, *ok: int) -> None:
        """Raise S3Error with the store's <Error><Code> unless the status is a success (or in `ok`)."""
        if r.is_success or r.status_code in ok:
            return
        body = r.read()
        code = message = request_id = ""
        try:
            root = ElementTree.fromstring(body)  # noqa: S314 - our own store's answer
            code, message = root.findtext("Code") or "", root.findtext("Message") or ""
            request_id = root.findtext("RequestId") or ""
        except ElementTree.ParseError:  # e.g. HEAD, or a proxy's HTML page
            pass
        raise S3Error(r.request.method, r.request.url.path, r.status_code, code, message, request_id)

    def put(self, key: str, sealed: Path) -> None:
        size = sealed.stat().st_size
        with sealed.open("rb") as f:
            r = self._request("PUT", key, content=f, headers={"content-length": str(size)},
                              payload="UNSIGNED-PAYLOAD")
        self._check(r)
        sealed.unlink(missing_ok=True)

    def chunks(self, key: str) -> Iterator[bytes]:
        r = self._request("GET", key, stream=True)
        try:
            self._check(r)
            yield from r.iter_bytes(_READ)
        finally:
            r.close()

    def delete(self, key: str) -> None:
        self._check(self._request("DELETE", key), 404)

    def list_keys(self, prefix: str) -> Iterator[str]:
        """The keys (without the store's prefix) under `prefix/`, page by page (ListObjectsV2,
        `list_page_size` a page, following NextContinuationToken). A page is fetched only when
        the previous one has been consumed, so deleting what was handed out is safe."""
        token: str | None = None
        while True:
            query = {"list-type": "2", "prefix": f"{self.prefix}{prefix}/", "max-keys": str(self.list_page_size)}
            if token:
                query["continuation-token"] = token
            r = self._request("GET", None, query=query)
            self._check(r)
            root = ElementTree.fromstring(r.content)  # noqa: S314 - our own store's answer
            ns = root.tag.partition("}")[0] + "}" if root.tag.startswith("{") else ""
            for item in root.iter(f"{ns}Key"):
                if item.text and item.text.startswith(self.prefix):
                    yield item.text.removeprefix(self.prefix)
            truncated = root.findtext(f"{ns}IsTruncated") == "true"
            token = root.findtext(f"{ns}NextContinuationToken")
            if not truncated:
                return
            if not token:  # truncated without a token: stopping here would leave objects behind
                raise S3Error("GET", f"/{self.bucket}", r.status_code, "NoContinuationToken",
                              "a truncated listing without NextContinuationToken", "")

    def delete_prefix(self, prefix: str) -> int:
        n = 0
        for key in self.list_keys(prefix):
            self.delete(key)
            n += 1
        return n
