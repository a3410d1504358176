"""The tombstones of purged tenants: an append-only JSON-lines file outside every service database.

A restore rolls the databases back, the accounts database with them, and so the record that a
tenant was deleted (its contract-end row and the services' purge confirmations) would go back to
before the deletion, and the tenant's data would live again. This file is not part of any backup
and is never rewritten, only appended to: accounts adds a line when it asks the services to purge
a tenant (from then on the data must never come back), at each service's confirmation (the
confirmations of the deletion certificate), and when the accounts themselves are deleted. After a
restore, ops.backup.repurge purges every tenant named here again and reinstates the record the
certificate is issued from (docs/operations.md, "A restore never brings a deleted tenant back").

Where: ROUMU_TOMBSTONE_FILE, default <var_dir>/tombstones/purged-tenants.jsonl; with several hosts
it must be on storage the accounts service and the restore both reach (and that is not restored)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shared.settings import CommonSettings


def tombstone_path(common: CommonSettings) -> Path:
    return common.tombstone_file or common.var_dir / "tombstones" / "purged-tenants.jsonl"


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: dict[str, Any]) -> None:
        """One line, flushed to disk before the caller commits: a tombstone that exists for a purge
        whose transaction then failed only makes a restore purge a tenant already due for it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def tenants(self) -> dict[str, dict[str, Any]]:
        """tenant_id → the merged record (later lines add to earlier ones). A torn last line (a
        crash mid-write) is skipped; every complete line counts."""
        out: dict[str, dict[str, Any]] = {}
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return out
        for raw in text.splitlines():
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("tenant_id"), str):
                merged = out.setdefault(rec["tenant_id"], {})
                merged.update(rec)
        return out
