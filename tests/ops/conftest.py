"""An installation of its own for the backup tests: its own databases (SQLite files, or PostgreSQL
`roumu_t_*_bk_*` databases on ROUMU_TEST_POSTGRES_URL, dropped at the end), var dir, keys and file
store, migrated and seeded with the demo tenant, a monitoring account and planted secrets. The
session's NATS and stream are shared, so published events meet the contract sweep."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ops.backup import sources
from ops.backup.archive import BackupKeys, sha256_file
from ops.backup.job import backed_up_services
from ops.backup.settings import BackupSettings, MonitorSettings
from ops.migrate import migrate
from ops.seed import seed_demo, seed_monitor
from services.accounts import repository as accounts_repo
from services.accounts import service as accounts
from services.accounts.schemas import UserCreate
from shared.db import Database
from shared.events import Actor
from shared.keys import ensure_keys
from shared.settings import CommonSettings
from tests.conftest import TEST_STREAM

MY_NUMBER = "123456789018"  # a well-formed 個人番号 (check digit 8), planted in plain text
ADMIN_PASSWORD = "backup-tests-admin-パスワード-1"
MONITOR_PASSWORD = "backup-tests-kanshi-パスワード-2"  # never containing the login id (policy)


@dataclass
class Installation:
    common: CommonSettings
    backup: BackupSettings
    monitor: MonitorSettings
    keys: BackupKeys
    var: Path
    admin_url: str | None
    prefix: str
    file_marker: bytes
    files: dict[str, str]  # path in the store → sha256
    password_hash: str

    def urls(self) -> dict[str, str]:
        return {s: self.common.database_url(s) for s in backed_up_services()}

    def counts(self) -> dict[str, dict[str, int]]:
        return {s: sources.table_counts(u)[0] for s, u in self.urls().items()}

    def wipe(self) -> None:
        """Every database, the file store and the keys: gone."""
        for url in self.urls().values():
            if url.startswith("sqlite"):
                path = sources.sqlite_path(url)
                for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                    p.unlink(missing_ok=True)
            else:
                sources.drop_database(url)
        shutil.rmtree(self.var / "files", ignore_errors=True)
        shutil.rmtree(self.common.keys_dir, ignore_errors=True)


@pytest.fixture
def installation(tmp_path: Path, nats, test_dbs, session_keys: Path) -> Iterator[Installation]:
    var = tmp_path / "var"
    admin_url = os.environ.get("ROUMU_TEST_POSTGRES_URL")
    prefix = f"roumu_t_{uuid.uuid4().hex[:6]}_bk"
    if admin_url:
        template = f"{admin_url.rsplit('/', 1)[0]}/{prefix}_{{service}}"
        for s in backed_up_services():
            sources.create_database(template.format(service=s))
    else:
        template = f"sqlite:///{var.as_posix()}/db/{{service}}.db"
    # The session's NATS knows the session's NATS users: their passwords come from there.
    common = CommonSettings(var_dir=var, keys_dir=var / "keys", nats_url=nats.url, nats_stream=TEST_STREAM,
                            nats_credentials_dir=session_keys / "nats",
                            database_url_template=template, log_level="WARNING")
    ensure_keys(common.keys_dir)
    migrate(settings=common)
    seed_demo(common, ADMIN_PASSWORD)
    seed_monitor(common, MONITOR_PASSWORD)
    accounts_db = Database(common.database_url("accounts"))
    try:
        with accounts_db.transaction() as s:
            tenant = accounts_repo.tenant_by_code(s, "demo")
            assert tenant is not None
            accounts.create_user(s, tenant.id, UserCreate(login_id="planted", display_name=f"番号 {MY_NUMBER}"),
                                 Actor(kind="system", id="tests"))
    finally:
        accounts_db.dispose()
    engine = create_engine(common.database_url("auth"))
    with engine.connect() as conn:
        password_hash = str(conn.execute(text("SELECT password_hash FROM credentials WHERE login_id = 'admin'"))
                            .scalar_one())
    engine.dispose()
    assert password_hash.startswith("$argon2")

    marker = f"PLANTED-FILE-CONTENT-{uuid.uuid4().hex}".encode()
    files: dict[str, str] = {}
    store = var / "files"
    for rel, body in {"objects/ab/abcdef.bin": marker * 500, "objects/cd/cdef01.bin": os.urandom(70_000),
                      "objects/ef/empty.bin": b""}.items():
        path = store / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        files[rel] = sha256_file(path)
    (store / "tmp").mkdir()
    (store / "tmp" / "in-flight.sealed").write_bytes(b"upload in flight, not part of the store")

    key = f"bk-test:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    backup = BackupSettings(key=key, primary_dir=tmp_path / "backups" / "primary",
                            secondary_dir=tmp_path / "backups" / "secondary", segment_bytes=64 * 1024,
                            drill_database_prefix=f"{prefix}_drill")
    monitor = MonitorSettings(password=MONITOR_PASSWORD)
    inst = Installation(common, backup, monitor, BackupKeys.parse(key), var, admin_url, prefix, marker, files,
                        password_hash)
    yield inst
    if admin_url:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            names = [r[0] for r in conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                                {"p": f"{prefix}%"})]
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
