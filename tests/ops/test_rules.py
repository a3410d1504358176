"""Retention and schedule rules, pure, at their boundaries (a FrozenClock gives now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ops.backup.retention import GenerationInfo, to_delete
from ops.backup.schedule import next_run, parse_time
from shared.clock import JST, FrozenClock

DAY = timedelta(days=1)


def gens(n: int, start: datetime, failed: set[int] = frozenset()) -> list[GenerationInfo]:  # type: ignore[assignment]
    return [GenerationInfo(f"g{i}", start + i * DAY, i not in failed) for i in range(n)]


def test_seven_good_generations_are_kept_the_eighth_oldest_goes():
    clock = FrozenClock(datetime(2026, 5, 1, 14, 30, tzinfo=UTC))
    g = gens(8, clock.now() - 7 * DAY)
    assert to_delete(g, clock.now(), keep=7) == ["g0"]
    assert to_delete(g[1:], clock.now(), keep=7) == []


def test_a_failed_run_never_pushes_a_good_generation_out():
    now = datetime(2026, 5, 1, 14, 30, tzinfo=UTC)
    g = gens(8, now - 7 * DAY, failed={7})  # the newest run failed
    assert to_delete(g, now, keep=7) == []
    # Days of failures: the seven good ones stay, however many failed runs pile up after them.
    g = gens(7, now - 20 * DAY) + [GenerationInfo(f"f{i}", now - i * DAY, False) for i in range(5)]
    assert to_delete(g, now, keep=7) == []


def test_failed_generations_go_once_a_newer_good_one_exists():
    now = datetime(2026, 5, 1, tzinfo=UTC)
    g = [GenerationInfo("good-old", now - 3 * DAY, True), GenerationInfo("bad", now - 2 * DAY, False),
         GenerationInfo("good-new", now - DAY, True)]
    assert to_delete(g, now, keep=7) == ["bad"]


def test_secondary_keeps_at_most_35_days_but_never_its_newest_good_generation():
    now = datetime(2026, 5, 1, tzinfo=UTC)
    g = [GenerationInfo(f"d{i}", now - timedelta(days=i), True) for i in range(40)]
    doomed = to_delete(g, now, max_age=timedelta(days=35))
    assert doomed == sorted(f"d{i}" for i in range(36, 40))
    assert "d35" not in doomed  # exactly 35 days: kept
    # Nothing good for 40 days: the last good one stays (with an alert from the monitor), failed ones go.
    stale = [GenerationInfo("last-good", now - 40 * DAY, True), GenerationInfo("failed-old", now - 39 * DAY, False)]
    assert to_delete(stale, now, max_age=timedelta(days=35)) == ["failed-old"]


def test_keep_must_be_positive():
    with pytest.raises(ValueError):
        to_delete([], datetime.now(UTC), keep=0)


def test_next_run_is_the_configured_time_in_jst_at_or_after_23():
    before = datetime(2026, 5, 1, 22, 59, tzinfo=JST)
    assert next_run(before, "23:30") == datetime(2026, 5, 1, 23, 30, tzinfo=JST)
    assert next_run(datetime(2026, 5, 1, 23, 30, tzinfo=JST), "23:30") == datetime(2026, 5, 1, 23, 30, tzinfo=JST)
    after = datetime(2026, 5, 1, 23, 30, 1, tzinfo=JST)
    assert next_run(after, "23:30") == datetime(2026, 5, 2, 23, 30, tzinfo=JST)
    # A UTC now: 14:00 UTC is 23:00 JST.
    assert next_run(datetime(2026, 12, 31, 14, 5, tzinfo=UTC), "23:00") == datetime(2027, 1, 1, 23, 0, tzinfo=JST)


@pytest.mark.parametrize("bad", ["22:59", "12:00", "00:30", "24:00", "23", "late"])
def test_times_before_23_or_malformed_are_refused(bad: str):
    with pytest.raises(ValueError):
        parse_time(bad)


def test_the_setting_refuses_a_time_before_23(monkeypatch):
    from pydantic import ValidationError

    from ops.backup.settings import BackupSettings

    monkeypatch.setenv("ROUMU_BACKUP_AT", "22:00")
    with pytest.raises(ValidationError):
        BackupSettings()


# --- the monthly drill (issue 24.4) ----------------------------------------------------------

def test_the_rto_limit_is_four_hours():
    from ops.backup.drill_rules import rto_problem

    assert rto_problem(None) is None and rto_problem(4 * 3600.0) is None
    assert "exceeds the 4.0 h" in (rto_problem(4 * 3600.0 + 1) or "")


def test_the_drill_is_due_once_a_month_from_its_day():
    from datetime import UTC, datetime

    from ops.backup.drill_rules import drill_due

    # 2026-03-31 15:30 UTC is 2026-04-01 00:30 JST: April's drill is due on the 1st (JST).
    now = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)
    assert drill_due(now, None, 1)
    assert drill_due(now, datetime(2026, 3, 1, 0, 0, tzinfo=UTC), 1)
    assert not drill_due(now, datetime(2026, 3, 31, 15, 10, tzinfo=UTC), 1)  # 00:10 JST on April 1st: done
    assert not drill_due(now, None, 2)  # from the 2nd only
    assert drill_due(datetime(2026, 4, 20, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), 2)


def test_the_monitor_reads_the_last_drill():
    from datetime import UTC, datetime, timedelta

    from ops.backup.drill_rules import drill_status

    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert drill_status(None, now, 35).level == "warn"
    fresh = {"at": (now - timedelta(days=3)).isoformat(), "ok": True, "backup_id": "b1", "rto_seconds": 600.0}
    st = drill_status(fresh, now, 35)
    assert st.level == "ok" and "RTO 10.0 min" in st.message and st.age_seconds == 3 * 86400
    old = {**fresh, "at": (now - timedelta(days=36)).isoformat()}
    assert drill_status(old, now, 35).level == "crit" and "overdue" in drill_status(old, now, 35).message
    failed = {**fresh, "ok": False, "problems": ["RTO 4.50 h exceeds the 4.0 h the service promises"]}
    assert drill_status(failed, now, 35).level == "crit" and "RTO 4.50 h" in drill_status(failed, now, 35).message
