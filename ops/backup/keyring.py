"""Where the master backup key comes from: ROUMU_BACKUP_KEY, else ROUMU_BACKUP_KEY_FILE, else (dev)
a key generated once in <keys_dir>/backup-key, with a warning: that key lives beside the data it
protects, so losing the machine loses the backups' key too."""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

from ops.backup.archive import BackupKeys
from ops.backup.settings import BackupSettings

DEV_KEY_FILE = "backup-key"


def load_backup_keys(backup: BackupSettings, keys_dir: Path, warn: bool = True) -> BackupKeys:
    if backup.key.strip():
        return BackupKeys.parse(backup.key)
    if backup.key_file is not None:
        return BackupKeys.parse(backup.key_file.read_text())
    path = keys_dir / DEV_KEY_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        spec = f"bk-dev-{secrets.token_hex(4)}:{base64.b64encode(secrets.token_bytes(32)).decode()}\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(spec)
        except FileExistsError:
            pass
    if warn:
        print(f"[roumu] WARNING: no ROUMU_BACKUP_KEY / ROUMU_BACKUP_KEY_FILE: using the dev key {path}. "
              "Keep production's backup key outside the machine it protects.", file=sys.stderr, flush=True)
    return BackupKeys.parse(path.read_text())
