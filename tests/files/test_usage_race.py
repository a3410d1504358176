"""A tenant's first two uploads arriving together (found by the fault run,
tests/security/test_faults.py): both create the tenant's usage row; the second one used to fail
the primary key with a 500 on PostgreSQL. Now it reads the row the first one made."""

from __future__ import annotations

import threading
import time
import uuid

from services.files import service
from services.files.models import TenantUsage
from shared.db import Database
from shared.settings import CommonSettings


def test_two_first_uploads_share_one_usage_row(settings: CommonSettings) -> None:
    db = Database(settings.database_url("files"))
    tenant = str(uuid.uuid4())
    second: dict[str, object] = {}
    try:
        with db.transaction() as first:
            service._usage(first, tenant, lock=True).files_count += 1

            def other() -> None:
                try:
                    with db.transaction() as s:
                        service._usage(s, tenant, lock=True).files_count += 1
                    second["ok"] = True
                except Exception as exc:
                    second["error"] = exc

            t = threading.Thread(target=other)
            t.start()
            time.sleep(0.5)  # the other transaction is now waiting on this one's row (or write lock)
        t.join(30)
        assert "error" not in second, second
        with db.sessions() as s:
            row = s.get(TenantUsage, tenant)
            assert row is not None and row.files_count == 2
    finally:
        db.dispose()
