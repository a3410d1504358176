"""Debian's `xmlsec1` (the XML Security Library's command line) as an independent XMLDSig oracle.

Our signer and verifier (shared/xmldsig.py) agreeing with each other proves nothing; these helpers
let tests have documents verified, and signed, by another implementation. Each call works in a
temporary folder that plays the package's `<proc_id>/` folder, so the bare file names of the
References (`495008680033800330_01.xml`) resolve next to kousei.xml, as at e-Gov."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

XMLSEC1 = shutil.which("xmlsec1")


def require() -> str:
    if XMLSEC1 is None:
        pytest.skip("xmlsec1 is not installed (Debian: apt-get install -y xmlsec1); the cross-verification "
                    "tests need an independent XMLDSig implementation and are skipped")
    return XMLSEC1


@dataclass(frozen=True)
class Result:
    ok: bool
    output: str
    signed: bytes = b""


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def verify(doc: bytes, *, id_attr: tuple[str, str], trusted: list[x509.Certificate],
           files: dict[str, bytes] | None = None, doc_name: str = "kousei.xml") -> Result:
    """`xmlsec1 --verify` of `doc` (every Signature's first one: xmlsec1 takes the first it finds),
    with `files` beside it and `trusted` as the trust anchors for the embedded certificate."""
    exe = require()
    with tempfile.TemporaryDirectory(prefix="xmlsec1-") as tmp:
        d = Path(tmp)
        for name, data in (files or {}).items():
            (d / name).write_bytes(data)
        (d / doc_name).write_bytes(doc)
        args = [exe, "--verify", f"--id-attr:{id_attr[0]}", id_attr[1]]
        for i, cert in enumerate(trusted):
            (d / f"trusted-{i}.pem").write_bytes(_pem(cert))
            args += ["--trusted-pem", f"trusted-{i}.pem"]
        proc = subprocess.run([*args, doc_name], cwd=d, capture_output=True, text=True, timeout=60, check=False)
        return Result(proc.returncode == 0, proc.stdout + proc.stderr)


def sign(template: bytes, *, id_attr: tuple[str, str], key: rsa.RSAPrivateKey, cert: x509.Certificate,
         files: dict[str, bytes] | None = None, doc_name: str = "kousei.xml") -> Result:
    """`xmlsec1 --sign` of a template (a Signature with empty DigestValue / SignatureValue and an
    empty X509Data, which xmlsec1 fills with `cert`)."""
    exe = require()
    with tempfile.TemporaryDirectory(prefix="xmlsec1-") as tmp:
        d = Path(tmp)
        for name, data in (files or {}).items():
            (d / name).write_bytes(data)
        (d / doc_name).write_bytes(template)
        (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        (d / "cert.pem").write_bytes(_pem(cert))
        proc = subprocess.run([exe, "--sign", "--privkey-pem", "key.pem,cert.pem", f"--id-attr:{id_attr[0]}",
                               id_attr[1], "--output", "signed.xml", doc_name], cwd=d, capture_output=True,
                              text=True, timeout=60, check=False)
        out = (d / "signed.xml").read_bytes() if proc.returncode == 0 else b""
        return Result(proc.returncode == 0, proc.stdout + proc.stderr, out)
