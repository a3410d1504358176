"""Worked examples of the pure rules (services/auth/rules/): no database, no clock but the
argument."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.auth.rules import blocklist, lockout, scopes, sessions, totp
from services.auth.rules import password_policy as pp

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
POLICY = pp.PasswordPolicy()


def rules_broken(password: str, login_id: str = "tanaka") -> list[str]:
    return [v.rule for v in pp.check_content(POLICY, password, login_id, blocklist.weakness)]


def test_defaults_are_the_sheets_and_asvs():
    assert (POLICY.min_length, POLICY.max_length, POLICY.history, POLICY.min_age) == (12, 128, 24, timedelta(hours=24))


def test_length_counts_code_points_after_nfkc_and_never_truncates():
    assert rules_broken("ｋｅｓｔｒｅｌ－ｏｒｂ")[0] == "too_short"  # 11 full-width → 11 after NFKC
    assert "too_short" not in rules_broken("ｋｅｓｔｒｅｌ－ｏｒｂｉ")
    assert pp.normalize("ｋｅｓｔｒｅｌ") == "kestrel"
    assert rules_broken("社労士の事務所は今日も忙しいです") == []  # any Unicode, 16 characters
    long = "Kestrel-orbit-" * 9 + "x" * 3  # 129
    assert "too_long" in rules_broken(long)
    assert rules_broken(long[:128]) == []


def test_login_id_and_blocklist_and_guessable():
    assert rules_broken("my-Tanaka-password-2026") == ["contains_login_id"]
    assert rules_broken("ＴＡＮＡＫＡ-lantern-orbit") == ["contains_login_id"]  # case and width folded
    assert rules_broken("abc-kestrel-orbit", login_id="ab") == []  # too short a login id to check
    assert rules_broken("password1234") == ["blocklisted"]
    assert rules_broken("aaaaaaaaaaaaaaaa") == ["guessable"]
    assert rules_broken("123456789012") == ["guessable"]


def test_min_age_says_when_the_next_change_is_allowed():
    v = pp.check_min_age(POLICY, NOW, NOW + timedelta(hours=23, minutes=59), exempt=False)
    assert v is not None and v.rule == "changed_too_recently" and v.next_allowed_at == NOW + timedelta(hours=24)
    assert pp.check_min_age(POLICY, NOW, NOW + timedelta(hours=24), exempt=False) is None
    assert pp.check_min_age(POLICY, NOW, NOW + timedelta(minutes=1), exempt=True) is None


def test_history_covers_exactly_the_last_n():
    hashes = [f"h{i}" for i in range(30)]  # newest first: h0 is the current password

    def matches(stored: str, pw: str) -> bool:
        return stored == f"h{pw}"

    assert pp.check_history(POLICY, "23", hashes, matches) is not None  # 24th newest
    assert pp.check_history(POLICY, "24", hashes, matches) is None  # 25th newest


def test_tenant_policy_is_clamped_to_asvs():
    p = pp.PasswordPolicy.from_settings({"min_length": 8, "max_length": 500, "history": None, "min_age_hours": 0})
    assert (p.min_length, p.max_length, p.history, p.min_age) == (12, 128, 24, timedelta(0))
    assert pp.PasswordPolicy.from_settings({"min_length": 16}).min_length == 16


def test_lockout_worked_example():
    policy = lockout.LockoutPolicy()
    state = lockout.LockState()
    for i in range(1, 5):
        out = lockout.after_failure(state, policy, NOW)
        assert not out.locked_now and out.state.failed_count == i
        state = out.state
    out = lockout.after_failure(state, policy, NOW)
    assert out.locked_now and out.state.locked_until == NOW + timedelta(minutes=30)
    assert out.state.is_locked(NOW + timedelta(minutes=29, seconds=59))
    assert not out.state.is_locked(NOW + timedelta(minutes=30)) and out.state.lapsed(NOW + timedelta(minutes=30))
    # While locked, failures do not add (the lock runs its course).
    assert lockout.after_failure(out.state, policy, NOW + timedelta(minutes=1)).state == out.state
    admin_only = lockout.LockoutPolicy.from_settings({"threshold": 3, "admin_unlock_only": True})
    s = lockout.LockState(failed_count=2)
    locked = lockout.after_failure(s, admin_only, NOW).state
    assert locked.locked_until is None and locked.is_locked(NOW + timedelta(days=365))


def test_source_throttle():
    t = lockout.SourceThrottle(limit=3, window=timedelta(minutes=15))
    assert t.retry_after(2) is None and t.retry_after(3) == 900


def test_totp_window_and_replay():
    secret = totp.new_secret()
    step = totp.step_at(NOW)
    for delta in (-1, 0, 1):
        assert totp.match_step(secret, totp.code_at(secret, step + delta), NOW, None) == step + delta
    assert totp.match_step(secret, totp.code_at(secret, step - 2), NOW, None) is None
    assert totp.match_step(secret, totp.code_at(secret, step + 2), NOW, None) is None
    code = totp.code_at(secret, step)
    assert totp.match_step(secret, code, NOW, step) is None  # used once already
    assert totp.is_replay(secret, code, NOW, step)
    assert totp.match_step(secret, totp.code_at(secret, step + 1), NOW, step) == step + 1


def test_recovery_codes_are_ten_distinct_and_normalised():
    codes = totp.new_recovery_codes()
    assert len(set(codes)) == 10
    assert totp.hash_recovery_code(codes[0].upper().replace("-", " ")) == totp.hash_recovery_code(codes[0])


@pytest.mark.parametrize(("minutes_idle", "hours_old", "expected"), [
    (29, 1, "active"), (30, 1, "idle_expired"), (1, 12, "expired"),
])
def test_session_timeouts(minutes_idle, hours_old, expected):
    created = NOW - timedelta(hours=hours_old)
    last = NOW - timedelta(minutes=minutes_idle)
    assert sessions.status(created, last, None, NOW, sessions.SessionPolicy()) == expected
    assert sessions.status(created, last, NOW, NOW, sessions.SessionPolicy()) == "revoked"


def test_scopes():
    assert scopes.unknown(["employees:read", "root"]) == ["root"]
    assert scopes.granted(["employees:read", "filings:read"], None) == ["employees:read", "filings:read"]
    assert scopes.granted(["employees:read"], "employees:read") == ["employees:read"]
    assert scopes.granted(["employees:read"], "employees:write") is None
