"""The case reaches 手続終了 and the filing is written `completed`, then fetching its 公文書 fails
(found by the fault run, tests/security/test_faults.py: the database restarted in between). The
worker's next pass fetches it; before, a completed filing was never polled again, so the 公文書
and `official_document_received` (which completes the procedure in koyo_hoken) never came."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.efiling import submission, tracking
from services.efiling.models import OfficialDocument, Submission
from shared.db import Database
from tests.services.efiling.support import filing, link_account, make_egov, new_filing, tenant
from tests.services.egov_support import new_account
from tests.services.support import outbox_payloads


@pytest.fixture
def db(settings):
    d = Database(settings.database_url("efiling"))
    yield d
    d.dispose()


def test_a_document_not_fetched_when_the_case_completed_is_fetched_by_the_next_pass(sandbox, db, settings,
                                                                                  files_store):
    egov, _ = make_egov(settings, sandbox, retry_attempts=2)
    try:
        t = tenant()
        fid = new_filing(db, egov, t, link_account(db, egov, sandbox, t, new_account()))
        assert submission.submit(db, egov, fid).state == "arrived"
        assert tracking.poll_filing(db, egov, files_store, fid) == "arrived"
        assert tracking.poll_filing(db, egov, files_store, fid) == "under_review"

        # The next read says 手続終了; every download of the 公文書 fails (both tries).
        sandbox.fault(kind="500", path="/shinsei/v2/official_document/*", method="GET", count=2)
        assert tracking.poll_filing(db, egov, files_store, fid) == "completed"  # the failed download is logged
        assert filing(db, fid).status == "completed"
        with db.sessions() as s:
            assert not s.execute(select(OfficialDocument).where(OfficialDocument.filing_id == fid)).first()

        # The worker's pass picks the completed filing up again and fetches the 公文書, once.
        tracking.track_once(db, egov, files_store)
        with db.sessions() as s:
            [doc] = s.execute(select(OfficialDocument).where(OfficialDocument.filing_id == fid)).scalars()
            assert doc.completed_at is not None
            assert s.get(Submission, fid).next_poll_at is None  # settled: not polled again
        types = [e["type"] for e in outbox_payloads(settings, "efiling", fid)]
        assert types.count("roumu.efiling.filing.official_document_received") == 1
        reads = len(sandbox.requests(path="/shinsei/v2/apply/*", method="GET"))
        tracking.track_once(db, egov, files_store)
        assert len(sandbox.requests(path="/shinsei/v2/apply/*", method="GET")) == reads
    finally:
        egov.http.close()
