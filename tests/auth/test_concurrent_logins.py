"""One user logging in from several places at once (found by the fault run,
tests/security/test_faults.py, whose four clients log in as one administrator): every login
succeeds. Before, on PostgreSQL, all but one failed the credential's version check with a 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.auth.conftest import strong


def test_simultaneous_logins_of_one_user_all_succeed(tenant):
    pw = strong("together")
    tenant.add_user("kobayashi", pw)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: tenant.login("kobayashi", pw), range(6)))
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers if r.status_code != 200]
    assert all(r.json()["status"] == "authenticated" for r in answers)
