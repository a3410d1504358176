"""A real S3-compatible HTTP server for the tests: moto's server (`python -m moto.server`, from the
`moto[server]` dev dependency) as its own process on 127.0.0.1, reached over HTTP by the store
exactly as it would reach MinIO or AWS.

moto checks signatures only when its IAM simulation is on. The fixture therefore sets up, while
the server still accepts anything, an IAM user with an access key and an S3 policy plus the
bucket, then switches authentication on (`/moto-api/reset-auth` 0): from then on every request
must carry a SigV4 signature that moto recomputes with botocore, an implementation independent
of ours, and an unknown key or a wrong secret is refused as AWS would."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import httpx

from services.files.storage import S3Store, sigv4_headers
from tests.support.nats_server import free_port

# moto accepts any key while authentication is off; these only sign the set-up requests.
_SETUP_KEY = ("AKIASETUPSETUPSETUP0", "setup-secret")
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def moto_available() -> bool:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return False
    return True


class MotoServer:
    def __init__(self, root: Path, bucket: str = "roumu-files") -> None:
        self.root = root
        self.bucket = bucket
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.access_key = ""
        self.secret_key = ""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / "moto.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60  # a guard against a hang, not a timing check
        while True:
            try:
                if httpx.get(f"{self.endpoint}/moto-api/", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto server did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        self._set_up()
        return self

    def _signed(self, method: str, service: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> httpx.Response:
        extra = headers or {}
        digest = hashlib.sha256(body).hexdigest()
        signed = sigv4_headers(method, f"127.0.0.1:{self.port}", path, {}, extra, digest, *_SETUP_KEY,
                               "us-east-1", datetime.now(UTC), service=service)
        r = httpx.request(method, self.endpoint + path, content=body, headers={**extra, **signed}, timeout=30)
        r.raise_for_status()
        return r

    def _iam(self, **form: str) -> ElementTree.Element:
        data = str(httpx.QueryParams({**form, "Version": "2010-05-08"})).encode()
        r = self._signed("POST", "iam", "/", data, {"content-type": "application/x-www-form-urlencoded"})
        return ElementTree.fromstring(r.content)

    def _set_up(self) -> None:
        self._iam(Action="CreateUser", UserName="roumu-files")
        self._iam(Action="PutUserPolicy", UserName="roumu-files", PolicyName="s3",
                  PolicyDocument=json.dumps(POLICY))
        key = self._iam(Action="CreateAccessKey", UserName="roumu-files")
        ns = key.tag.partition("}")[0] + "}" if key.tag.startswith("{") else ""
        self.access_key = key.findtext(f".//{ns}AccessKeyId") or ""
        self.secret_key = key.findtext(f".//{ns}SecretAccessKey") or ""
        assert self.access_key and self.secret_key
        self._signed("PUT", "s3", f"/{self.bucket}")
        # From here on moto verifies every request's signature and key.
        httpx.post(f"{self.endpoint}/moto-api/reset-auth", content=b"0", timeout=10).raise_for_status()

    def store(self, *, secret_key: str | None = None, access_key: str | None = None, prefix: str = "files/",
              list_page_size: int = 1000) -> S3Store:
        return S3Store(self.endpoint, self.bucket, access_key or self.access_key, secret_key or self.secret_key,
                       prefix=prefix, list_page_size=list_page_size)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
