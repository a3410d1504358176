"""Return before deletion (返却, issue 24.5): export a whole tenant (docs/tenant-export.md).

    python -m ops.tenant_export run --tenant ID --out DIR [--recipient-key tenant-pub.pem]
    python -m ops.tenant_export verify DIR_OR_TAR --key certificate-key.pem
    python -m ops.tenant_export decrypt DIR/koyo_hoken/my_numbers.csv.enc --key tenant-private.pem
    python -m ops.tenant_export import DIR --tenant NEW_ID    # into a fresh installation's databases

`run` signs in nothing itself: it takes an operator token (ROUMU_OPERATOR_TOKEN, from
POST /api/v1/auth/operators/login), the gateway (ROUMU_GATEWAY_URL, default http://127.0.0.1:8000)
and accounts on the management network (ROUMU_ACCOUNTS_URL, default http://127.0.0.1:8102: the
archive upload is larger than the gateway accepts a request body),
asks every service holding tenant data for its share (`POST <prefix>/internal/tenant-export/<id>`,
shared.tenant_export: the rows the purge would delete, as CSV, plus files' originals and, only with
--recipient-key, koyo_hoken's My Numbers encrypted to that key), writes them under DIR/<service>/,
builds the manifest (every file's SHA-256 and size, rows per entity), has accounts sign it with the
deletion certificate key (POST /api/v1/accounts/tenants/<id>/exports: the export is recorded and
is in the tenant's audit log as an operator action), writes manifest.json and manifest.sig, packs
DIR into <export id>.tar and uploads it for the tenant's administrators to download.

No service is imported to read its data: every service answers for its own rows over HTTP, the
way the contract-end purge has each service delete its own."""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa, x25519
from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, LargeBinary, Numeric, Table
from sqlalchemy.types import TypeDecorator

from services.accounts.events import PURGING_SERVICES
from shared.tenant_export import Recipient, RecipientError, open_sealed
from shared.topology import api_prefix

SCHEMA_VERSION = 1
MY_NUMBERS = "koyo_hoken/my_numbers.csv.enc"


class ExportError(RuntimeError):
    pass


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ExportError(f"unsafe member name in a service's export: {name!r}")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def collect(clients: Mapping[str, httpx.Client], token: str, tenant_id: str, out: Path,
            recipient: Recipient | None = None) -> dict[str, Any]:
    """Every service's share into out/<service>/; answers the unsigned manifest."""
    headers = {"Authorization": f"Bearer {token}"}
    files: list[dict[str, Any]] = []
    for service in PURGING_SERVICES:
        client = clients[service]
        body = {"recipient_public_key": recipient.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()} if recipient else {}
        with client.stream("POST", f"{api_prefix(service)}/internal/tenant-export/{tenant_id}", headers=headers,
                           json=body, timeout=600) as r:
            if r.status_code != 200:
                r.read()
                raise ExportError(f"{service}: {r.status_code} {r.text[:500]}")
            raw = tempfile.TemporaryFile()
            for chunk in r.iter_bytes():
                raw.write(chunk)
        raw.seek(0)
        counts: dict[str, int] = {}
        with raw, tarfile.open(fileobj=raw, mode="r:") as tar:
            for m in tar:
                if not m.isfile():
                    raise ExportError(f"{service}: only regular files are expected, not {m.name!r}")
                rel = _safe_member(m.name)
                data = tar.extractfile(m)
                assert data is not None
                if rel.as_posix() == "counts.json":
                    counts = {k: int(v) for k, v in json.loads(data.read()).items()}
                    continue
                target = out / service / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as fh:
                    shutil.copyfileobj(data, fh, 1 << 20)
        for path in sorted((out / service).rglob("*")) if (out / service).exists() else []:
            if not path.is_file():
                continue
            rel_path = path.relative_to(out).as_posix()
            entry: dict[str, Any] = {"path": rel_path, "sha256": _sha256(path), "size": path.stat().st_size}
            if path.parent == out / service and path.suffix == ".csv":
                entry["entity"] = f"{service}.{path.stem}"
                entry["rows"] = counts.get(path.stem, 0)
            elif path.suffix == ".enc":  # the My Numbers, a package as sent: to the tenant's key only
                entry["encrypted_to"] = recipient.fingerprint if recipient else None
            else:
                entry["original_file"] = True
            files.append(entry)
    return {
        "format": "roumu.tenant_export/1 (docs/tenant-export.md)",
        "created_at": datetime.now(UTC).isoformat(),
        "services": list(PURGING_SERVICES),
        "csv": {"encoding": "UTF-8", "dialect": "RFC 4180, header row", "null": "empty field",
                "datetime": "ISO 8601", "boolean": "true/false", "json": "compact JSON", "binary": "base64"},
        "my_numbers": ({"included": True, "path": MY_NUMBERS, "encryption": recipient.scheme,
                        "recipient_fingerprint": recipient.fingerprint} if recipient else {"included": False}),
        "files": files,
    }


def sign_and_store(accounts: httpx.Client, token: str, tenant_id: str, out: Path,
                   manifest: dict[str, Any]) -> dict[str, Any]:
    """accounts signs the manifest (and records the export); manifest.json and manifest.sig (the
    raw 64-byte Ed25519 signature, `openssl pkeyutl -verify -rawin` reads it) and the public key
    are written beside the data; then the tar is uploaded."""
    headers = {"Authorization": f"Bearer {token}"}
    r = accounts.post(f"{api_prefix('accounts')}/tenants/{tenant_id}/exports", headers=headers,
                      json={"manifest": manifest})
    if r.status_code != 201:
        raise ExportError(f"accounts refused to sign: {r.status_code} {r.text[:500]}")
    signed = r.json()
    (out / "manifest.json").write_bytes(signed["manifest"].encode("utf-8"))
    sig = base64.urlsafe_b64decode(signed["signature"] + "=" * (-len(signed["signature"]) % 4))
    (out / "manifest.sig").write_bytes(sig)
    keys = accounts.get(f"{api_prefix('accounts')}/certificate-keys").json()["keys"]
    jwk = next(k for k in keys if k.get("kid") == signed["key_id"])
    pub = ed25519.Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4)))
    (out / "certificate-key.pem").write_bytes(pub.public_bytes(serialization.Encoding.PEM,
                                                               serialization.PublicFormat.SubjectPublicKeyInfo))
    (out / "README.txt").write_text(README.format(export_id=signed["export_id"], key_id=signed["key_id"]),
                                    encoding="utf-8")
    tar_path = out.parent / f"{out.name}.tar"
    with tarfile.open(tar_path, "w") as tar:
        for path in sorted(out.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=f"{out.name}/{path.relative_to(out).as_posix()}", recursive=False)
    with tar_path.open("rb") as f:
        r = accounts.put(f"{api_prefix('accounts')}/tenants/{tenant_id}/exports/{signed['export_id']}/archive",
                         headers={**headers, "Content-Type": "application/x-tar"},
                         content=iter(lambda: f.read(1 << 20), b""), timeout=600)
    if r.status_code != 200:
        raise ExportError(f"accounts refused the archive: {r.status_code} {r.text[:500]}")
    return {**signed, "archive": str(tar_path), **r.json()}


README = """Roumu 返却データ (tenant export) {export_id}

manifest.json   署名対象（各ファイルの SHA-256・サイズ・件数）
manifest.sig    Ed25519 署名（64 バイト、データ削除証明書と同じ鍵、鍵ID {key_id}）
certificate-key.pem  検証用公開鍵（/api/v1/accounts/certificate-keys と同じもの）

検証:  openssl pkeyutl -verify -pubin -inkey certificate-key.pem -rawin -in manifest.json -sigfile manifest.sig
       その後、manifest.json の files[].sha256 と各ファイルを照合してください（sha256sum）。
<service>/<table>.csv  1 テーブル 1 ファイル（UTF-8、1 行目は列名、空欄は NULL）
files/files/<id>/<name> 元のファイル
koyo_hoken/my_numbers.csv.enc  個人番号（指定された公開鍵でのみ復号可能。依頼時のみ）
efiling/packages/<申請ID>/<パッケージID>.zip  e-Gov に送った申請データ（個人番号は空欄）
efiling/packages/<申請ID>/<パッケージID>.zip.enc  送ったままの申請データ（公開鍵でのみ復号可能。依頼時のみ）
"""


# ---------------------------------------------------------------------------------------------
# The tenant's side: verify, decrypt; and the round trip: import into a fresh installation


def verify(out: Path, public_key: ed25519.Ed25519PublicKey) -> dict[str, Any]:
    """The signature over manifest.json, then every listed file's size and SHA-256; no unlisted
    file besides the signature, key and README. Answers the manifest."""
    text = (out / "manifest.json").read_bytes()
    try:
        public_key.verify((out / "manifest.sig").read_bytes(), text)
    except InvalidSignature:
        raise ExportError("manifest.json: the signature does not verify") from None
    manifest: dict[str, Any] = json.loads(text)
    listed = set()
    for f in manifest["files"]:
        path = out / _safe_member(f["path"])
        if not path.is_file() or path.stat().st_size != f["size"] or _sha256(path) != f["sha256"]:
            raise ExportError(f"{f['path']}: missing or changed")
        listed.add(f["path"])
    extra = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - listed - {
        "manifest.json", "manifest.sig", "certificate-key.pem", "README.txt"}
    if extra:
        raise ExportError(f"files not in the manifest: {sorted(extra)}")
    return manifest


def decrypt(path: Path, private_key_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, x25519.X25519PrivateKey | rsa.RSAPrivateKey):
        raise RecipientError("an X25519 or RSA private key is needed")
    return open_sealed(key, path.read_bytes())


def parse_cell(table: Table, column: str, text: str) -> Any:
    col = table.c[column]
    if text == "" and col.nullable:
        return None
    t = col.type
    while isinstance(t, TypeDecorator):  # UtcDateTime and the like: decide on what they wrap
        t = t.impl_instance
    if isinstance(t, Boolean):
        return text == "true"
    if isinstance(t, DateTime):
        return datetime.fromisoformat(text)
    if isinstance(t, Date):
        return date.fromisoformat(text)
    if isinstance(t, Integer):
        return int(text)
    if isinstance(t, Numeric):
        return Decimal(text)
    if isinstance(t, JSON):
        return json.loads(text)
    if isinstance(t, LargeBinary):
        return base64.b64decode(text)
    return text


def import_rows(out: Path, database_urls: Mapping[str, str], tenant_id: str) -> dict[str, int]:
    """Load the CSVs of a verified export into the databases of a fresh installation (one database
    per service, migrated to head), as tenant `tenant_id`: every `tenant_id` value becomes it (and
    accounts' tenants.id). Columns the export leaves out (sealed values, secrets) that the schema
    requires are filled with an empty string: the imported users must set their passwords again.
    Answers rows inserted per entity (`<service>.<table>`)."""
    import importlib

    from sqlalchemy import create_engine, insert

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    old = manifest["tenant"]["id"]
    inserted: dict[str, int] = {}
    for service in manifest["services"]:
        metadata = importlib.import_module(f"services.{service}.models").Base.metadata
        engine = create_engine(database_urls[service])
        try:
            with engine.begin() as conn:
                for table in metadata.sorted_tables:
                    path = out / service / f"{table.name}.csv"
                    if not path.is_file():
                        continue
                    with path.open(encoding="utf-8", newline="") as f:
                        reader = csv.reader(f)
                        header = next(reader)
                        rows = []
                        for values in reader:
                            row = {c: parse_cell(table, c, v) for c, v in zip(header, values, strict=True)}
                            for c in ("tenant_id",) + (("id",) if table.name == "tenants" else ()):
                                if row.get(c) == old:
                                    row[c] = tenant_id
                            for col in table.c:
                                if col.name not in row and not col.nullable and col.server_default is None \
                                        and col.default is None:
                                    row[col.name] = ""
                            rows.append(row)
                    if rows:
                        conn.execute(insert(table), rows)
                    inserted[f"{service}.{table.name}"] = len(rows)
        finally:
            engine.dispose()
    return inserted


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ops.tenant_export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="export a whole tenant (operator)")
    run.add_argument("--tenant", required=True)
    run.add_argument("--out", required=True, type=Path, help="a new folder; DIR.tar is written beside it")
    run.add_argument("--recipient-key", type=Path, help="the tenant's PEM public key (X25519 or RSA): "
                     "include the My Numbers, encrypted to it")
    run.add_argument("--gateway", default=os.environ.get("ROUMU_GATEWAY_URL", "http://127.0.0.1:8000"))
    run.add_argument("--accounts", default=os.environ.get("ROUMU_ACCOUNTS_URL", "http://127.0.0.1:8102"),
                     help="accounts itself, on the management network: the manifest and the archive go there "
                          "directly (the archive is larger than the gateway lets a request body be)")
    ver = sub.add_parser("verify", help="check the signature and every file of an export folder")
    ver.add_argument("dir", type=Path)
    ver.add_argument("--key", type=Path, help="certificate key PEM (default: DIR/certificate-key.pem)")
    dec = sub.add_parser("decrypt", help="open my_numbers.csv.enc with the tenant's private key")
    dec.add_argument("file", type=Path)
    dec.add_argument("--key", type=Path, required=True)
    imp = sub.add_parser("import", help="load a verified export's CSVs into this installation's (fresh) databases")
    imp.add_argument("dir", type=Path)
    imp.add_argument("--tenant", required=True, help="the tenant id the rows get")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "run":
            token = os.environ.get("ROUMU_OPERATOR_TOKEN")
            if not token:
                print("set ROUMU_OPERATOR_TOKEN to an operator's access token (docs/operations.md)", file=sys.stderr)
                return 2
            recipient = Recipient.from_pem(args.recipient_key.read_text()) if args.recipient_key else None
            args.out.mkdir(parents=True, exist_ok=False)
            with httpx.Client(base_url=args.gateway, trust_env=False) as client, \
                    httpx.Client(base_url=args.accounts, trust_env=False) as accounts:
                manifest = collect(dict.fromkeys(PURGING_SERVICES, client), token, args.tenant, args.out, recipient)
                done = sign_and_store(accounts, token, args.tenant, args.out, manifest)
            print(json.dumps({k: done[k] for k in ("export_id", "key_id", "archive", "archive_sha256", "archive_size")},
                             ensure_ascii=False, indent=2))
        elif args.cmd == "verify":
            key_path = args.key or args.dir / "certificate-key.pem"
            pub = serialization.load_pem_public_key(key_path.read_bytes())
            if not isinstance(pub, ed25519.Ed25519PublicKey):
                raise ExportError("the certificate key is an Ed25519 public key")
            m = verify(args.dir, pub)
            print(f"ok: export {m['export_id']} of {m['tenant']['code']}, {len(m['files'])} files verified")
        elif args.cmd == "import":
            from shared.settings import CommonSettings

            settings = CommonSettings()
            m = json.loads((args.dir / "manifest.json").read_text(encoding="utf-8"))
            counts = import_rows(args.dir, {s: settings.database_url(s) for s in m["services"]}, args.tenant)
            print(json.dumps(counts, indent=2))
        else:
            sys.stdout.write(decrypt(args.file, args.key.read_bytes()).decode("utf-8"))
    except (ExportError, RecipientError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
