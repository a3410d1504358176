"""`python -m ops.tenant_export run` end to end, as an operator runs it (docs/tenant-export.md): the
whole stack started by ops.devrun (its own NATS, free ports), every service's share fetched through
the gateway with an operator token, the manifest signed and the archive uploaded to accounts
directly; then the signature checks with `openssl`, the archive is listed and downloads through the
gateway, and the command's own `verify` passes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import create_engine, text

from ops.backup.drill import _Stack
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER, TokenSigner

pytestmark = pytest.mark.slow


def test_the_command_exports_through_a_running_stack(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    stack = _Stack(var, "", None)
    stack.start()
    try:
        engine = create_engine(f"sqlite:///{var}/db/accounts.db")
        with engine.connect() as conn:
            tenant_id = conn.execute(text("SELECT id FROM tenants WHERE code = 'demo'")).scalar_one()
        engine.dispose()
        token = TokenSigner(var / "keys", "access").sign(
            {"sub": "yamada", "typ": "access", "kind": "operator", "roles": ["operator"],
             "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, 300)
        out = tmp_path / "export-demo"
        env = {**os.environ, "ROUMU_OPERATOR_TOKEN": token}
        r = subprocess.run([sys.executable, "-m", "ops.tenant_export", "run", "--tenant", tenant_id, "--out", str(out),
                            "--gateway", stack.url,
                            "--accounts", f"http://127.0.0.1:{stack.env['ROUMU_ACCOUNTS_PORT']}"],
                           env=env, capture_output=True, text=True, timeout=300, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert '"export_id"' in r.stdout

        v = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(out / "certificate-key.pem"),
                            "-rawin", "-in", str(out / "manifest.json"), "-sigfile", str(out / "manifest.sig")],
                           capture_output=True, text=True, check=False)
        assert v.returncode == 0 and "Signature Verified Successfully" in v.stdout, v.stdout + v.stderr
        users = (out / "accounts" / "users.csv").read_text(encoding="utf-8").splitlines()
        assert users[0].startswith("id,tenant_id,login_id,") and [u.split(",")[2] for u in users[1:]] == ["admin"]

        with httpx.Client(base_url=stack.url, trust_env=False) as client:
            listed = client.get(f"/api/v1/accounts/tenants/{tenant_id}/exports",
                                headers={"Authorization": f"Bearer {token}"})
            assert listed.status_code == 200, listed.text
            [export] = listed.json()
            got = client.get(f"/api/v1/accounts/tenants/{tenant_id}/exports/{export['id']}/archive",
                             headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == export["archive_sha256"]
        assert got.content == (tmp_path / "export-demo.tar").read_bytes()
        r = subprocess.run([sys.executable, "-m", "ops.tenant_export", "verify", str(out)],
                           capture_output=True, text=True, check=False)
        assert r.returncode == 0 and r.stdout.startswith("ok: export"), r.stdout + r.stderr
    finally:
        stack.stop()
