"""e-Gov's case status → our filing state, as a pure function.

e-Gov's `status` is free text (up to 256 full-width characters) whose values the spec does not
enumerate (EGOV-API.md §4). The strings below are the 最終確認試験 data's five (EGOV-XML.md §6)
plus the legacy `到達（取下げ処理中）` and `手続完了` from the spec's text; `却下` and `取下げ済` are
labels no source shows (the sandbox uses them). An unknown string maps to None: the caller keeps
the raw string and the filing's current state — never an error."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTING = "submitting"  # written before /apply is called
    UNKNOWN = "unknown"  # the call's outcome is unknown (timeout, 5xx, dropped): reconcile first
    NEEDS_REVIEW = "needs_review"  # reconciliation found more than one candidate: a person decides
    FAILED = "failed"  # refused before arrival (format check); nothing arrived
    ARRIVED = "arrived"  # 到達
    UNDER_REVIEW = "under_review"  # 審査中
    CORRECTION_REQUESTED = "correction_requested"  # 審査中（補正待ち）
    REVIEWED = "reviewed"  # 審査終了
    COMPLETED = "completed"  # 手続終了 / 手続完了
    REJECTED = "rejected"  # 却下 (label unconfirmed)
    WITHDRAWING = "withdrawing"  # 到達（取下げ処理中）
    WITHDRAWN = "withdrawn"  # 取下げ済 (label unconfirmed)


# States in which e-Gov holds a case that can still change: the poller reads these.
TRACKED = frozenset({State.ARRIVED, State.UNDER_REVIEW, State.CORRECTION_REQUESTED, State.REVIEWED,
                     State.WITHDRAWING})
FINAL = frozenset({State.COMPLETED, State.REJECTED, State.WITHDRAWN, State.FAILED})

_EXACT: dict[str, State] = {
    "到達": State.ARRIVED,
    "審査中": State.UNDER_REVIEW,
    "審査中（補正待ち）": State.CORRECTION_REQUESTED,
    "補正待ち": State.CORRECTION_REQUESTED,
    "審査終了": State.REVIEWED,
    "手続終了": State.COMPLETED,
    "手続完了": State.COMPLETED,
    "到達（取下げ処理中）": State.WITHDRAWING,
    "取下げ処理中": State.WITHDRAWING,
    "取下げ済": State.WITHDRAWN,
    "取下げ済み": State.WITHDRAWN,
    "却下": State.REJECTED,
}


def _normalise(raw: str) -> str:
    # Half-width parentheses and stray spaces are the likely variants of the same label.
    return raw.strip().replace("(", "（").replace(")", "）").replace(" ", "").replace("\u3000", "")


def map_status(raw: str | None) -> State | None:
    """Our state for an e-Gov status string, or None when the string is not one we know."""
    if not raw:
        return None
    s = _normalise(raw)
    if s in _EXACT:
        return _EXACT[s]
    if "補正待ち" in s:  # N's rule: a correction case is one whose status contains 補正待ち
        return State.CORRECTION_REQUESTED
    if "取下げ処理中" in s:
        return State.WITHDRAWING
    return None
