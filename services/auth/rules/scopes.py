"""Scopes a partner client may hold: each names one thing a partner system may do.

`<resource>:<action>`; a token carries the intersection of what the client holds and what it
asked for (RFC 6749 §3.3)."""

from __future__ import annotations

from collections.abc import Iterable

SCOPES: dict[str, str] = {
    "employees:read": "従業員（被保険者）情報の参照",
    "employees:write": "従業員（被保険者）情報の登録・更新",
    "mynumber:write": "マイナンバーの登録（参照はできません）",
    "filings:read": "電子申請の状況の参照",
    "filings:write": "電子申請の下書き作成",
    "documents:read": "書類の参照",
    "documents:write": "書類の登録",
    "webhooks:manage": "Webhook の登録・変更",
}


def unknown(scopes: Iterable[str]) -> list[str]:
    return sorted(s for s in scopes if s not in SCOPES)


def granted(held: Iterable[str], requested: str | None) -> list[str] | None:
    """The scopes of a token; None when the request asks for one the client does not hold."""
    held_set = set(held)
    if not requested:
        return sorted(held_set)
    asked = set(requested.split())
    return sorted(asked) if asked <= held_set else None
