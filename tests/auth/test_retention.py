"""Login history and lockout records are kept one calendar year, as the audit log keeps its login
category (services/audit_log/rules/retention.py). Before, auth purged at 365 days: across a 29
February that is one day short of a year."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from services.auth.models import LoginEvent
from services.auth.rules.retention import kept_since
from tests.auth.conftest import API, bearer, strong


def test_kept_since_is_the_same_calendar_moment_a_year_earlier():
    assert kept_since(datetime(2028, 3, 1, 12, tzinfo=UTC)) == datetime(2027, 3, 1, 12, tzinfo=UTC)
    assert kept_since(datetime(2028, 2, 29, 9, tzinfo=UTC)) == datetime(2027, 2, 28, 9, tzinfo=UTC)
    assert kept_since(datetime(2027, 6, 30, tzinfo=UTC), years=2) == datetime(2025, 6, 30, tzinfo=UTC)


def test_a_login_within_the_calendar_year_survives_the_purge_across_a_leap_day(tenant, clock):
    pw = strong()
    user_id = tenant.add_user("ono", pw)
    clock.set(datetime(2027, 3, 1, 6, tzinfo=UTC))
    assert tenant.login("ono", "wrong-" + pw).status_code == 401  # more than a year before "now" below
    clock.set(datetime(2027, 3, 1, 18, tzinfo=UTC))
    assert tenant.login("ono", "wrong-" + pw).status_code == 401  # within the year, past 365 days
    clock.set(datetime(2028, 3, 1, 12, tzinfo=UTC))  # 2028 is a leap year
    token = tenant.token("ono", pw)["access_token"]  # the login path purges
    with tenant.rt.db.transaction() as s:
        kept = sorted(r.at for r in s.execute(select(LoginEvent).where(LoginEvent.user_id == user_id)).scalars())
    assert kept[0] == datetime(2027, 3, 1, 18, tzinfo=UTC), kept
    history = tenant.client.get(f"{API}/me/login-history", headers=bearer(token)).json()
    assert [h["at"] for h in history][-1].startswith("2027-03-01T18:00")
