"""Password rules (SERVICE-SPEC "Accounts and authentication"; NIST 800-63B §3.1.1; ASVS 2.1).

The sheet's defaults: at most one change per 24 hours, no reuse of the last 24 passwords.
Ours on top: 12 to 128 characters (ASVS 2.1.1/2.1.2), any Unicode, NFKC-normalised (NIST),
never truncated, not containing the login id, not on the blocklist. No composition rules
(ASVS 2.1.9). Each refusal names its rule, so the user knows what to change."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# Floors a tenant cannot go below: ASVS L2 asks for at least 12 and to allow at least 64.
MIN_LENGTH_FLOOR = 12
MAX_LENGTH_CEILING = 128
MAX_LENGTH_FLOOR = 64
# A login id shorter than this would refuse too much ("a" is in most passwords).
LOGIN_ID_MIN_CHECKED = 3


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    max_length: int = 128
    history: int = 24
    min_age: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, raw: dict[str, Any] | None) -> PasswordPolicy:
        """A tenant's `password_policy` (accounts' settings); null fields keep the default.
        Values outside what ASVS L2 allows are clamped rather than refused: the tenant's
        intent (stricter or looser) is kept as far as it is safe."""
        raw = raw or {}
        d = cls()
        max_length = min(MAX_LENGTH_CEILING, max(MAX_LENGTH_FLOOR, _int(raw.get("max_length"), d.max_length)))
        min_length = min(max_length, max(MIN_LENGTH_FLOOR, _int(raw.get("min_length"), d.min_length)))
        history = max(0, _int(raw.get("history"), d.history))
        min_age_hours = max(0, _int(raw.get("min_age_hours"), int(d.min_age.total_seconds() // 3600)))
        return cls(min_length, max_length, history, timedelta(hours=min_age_hours))


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class Violation:
    """One rule a new password breaks. `rule` is stable for programs, `message` is for people."""

    rule: str
    message: str
    next_allowed_at: datetime | None = None

    def as_error(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": "new_password", "code": self.rule, "message": self.message}
        if self.next_allowed_at is not None:
            out["next_allowed_at"] = self.next_allowed_at.isoformat()
        return out


def normalize(password: str) -> str:
    """NFKC (NIST 800-63B): full-width and half-width forms of one character hash the same."""
    return unicodedata.normalize("NFKC", password)


def check_content(policy: PasswordPolicy, password: str, login_id: str,
                  weak: Callable[[str], str | None]) -> list[Violation]:
    """Rules on the (normalised) password itself. `weak` answers why a password is on the
    blocklist or too guessable, or None."""
    pw = normalize(password)
    out: list[Violation] = []
    length = len(pw)  # code points, as NIST counts them
    if length < policy.min_length:
        out.append(Violation("too_short", f"{policy.min_length}文字以上にしてください（現在{length}文字）"))
    if length > policy.max_length:
        out.append(Violation("too_long", f"{policy.max_length}文字以内にしてください（現在{length}文字）"))
    lid = normalize(login_id).casefold()
    if len(lid) >= LOGIN_ID_MIN_CHECKED and lid in pw.casefold():
        out.append(Violation("contains_login_id", "ログインIDを含むパスワードは使用できません"))
    if length <= policy.max_length:
        reason = weak(pw)
        if reason is not None:
            out.append(Violation(reason, _WEAK_MESSAGES.get(reason, _WEAK_MESSAGES["blocklisted"])))
    return out


_WEAK_MESSAGES = {
    "blocklisted": "よく使われているパスワードや漏えいしたパスワードの一覧に含まれるため使用できません",
    "guessable": "推測されやすいパスワードです（繰り返し、連続した文字、辞書の単語など）",
}


def check_min_age(policy: PasswordPolicy, last_changed_at: datetime | None, now: datetime,
                  exempt: bool) -> Violation | None:
    """At most one change per min_age (the sheet: once a day). An administrator's reset and
    the change it forces are exempt, else a reset user could be locked out of changing."""
    if exempt or last_changed_at is None or policy.min_age <= timedelta(0):
        return None
    next_at = last_changed_at + policy.min_age
    if now < next_at:
        return Violation("changed_too_recently",
                         f"パスワードの変更は{_hours(policy.min_age)}に1回までです。"
                         f"次に変更できるのは {next_at.isoformat()} 以降です", next_at)
    return None


def _hours(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return "1日" if hours == 24 else f"{hours}時間"


def check_history(policy: PasswordPolicy, password: str, recent_hashes: Sequence[str],
                  matches: Callable[[str, str], bool]) -> Violation | None:
    """No reuse of the last `history` passwords (the current one included), newest first."""
    pw = normalize(password)
    for stored in recent_hashes[:policy.history]:
        if matches(stored, pw):
            return Violation("reused", f"直近{policy.history}回に使用したパスワードは使用できません")
    return None
