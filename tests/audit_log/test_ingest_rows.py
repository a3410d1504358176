"""Settings of the audit database that the ingest relies on."""

from __future__ import annotations

from services.audit_log import service
from shared.db import Database


def test_the_services_sqlite_database_syncs_every_commit(tmp_path):
    """Acked events must not vanish with a power loss: the audit database syncs its WAL at each
    commit (synchronous=FULL, 2), unlike shared.db's NORMAL, on every pooled connection."""
    db = Database(f"sqlite:///{tmp_path.as_posix()}/audit.db")
    try:
        service.tune_database(db.engine)
        for _ in range(2):
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 10000
    finally:
        db.dispose()
