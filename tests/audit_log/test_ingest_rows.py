"""The ingest's shortcuts give what the plain path gives: data is stored as redact() leaves it."""

from __future__ import annotations

import random
from typing import Any

from services.audit_log import service
from services.audit_log.rules import chain
from shared.db import Database
from shared.logging import redact


def test_stored_data_is_what_redact_leaves_even_when_its_walk_is_skipped():
    cases: list[dict[str, Any]] = [
        {}, {"size": 1}, {"hire_date": "2026-04-01", "weekly_hours": "40"},
        {"note": "a\n123456789012"}, {"note": "1234-5678-9012"}, {"note": "x1234 5678 9012"},
        {"note": "１２３４５６７８９０１２"}, {"nested": {"password": "p", "ok": ["123456789012", 5]}},
        {"totp_required": True}, {"token_id": "t-1"}, {"list": [{"secret": 1}]}, {"n": 123456789012},
        {"a\"b": "\\\\123456789012"}, {"key": "\u2028" + "1" * 12},
    ]
    rng = random.Random(9)
    pieces = ["1234", "5678", "-", " ", "a", "\n", "\"", "\\", "１", "pass", "word", "日", "0"]
    cases += [{rng.choice(["k", "pass", "word_", "x"]) + rng.choice(pieces):
               "".join(rng.choice(pieces) for _ in range(rng.randrange(8)))} for _ in range(3000)]
    for data in cases:
        assert service._data_json(data) == chain.json_text(redact(data)), data


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
