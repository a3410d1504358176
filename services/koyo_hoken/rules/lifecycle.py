"""The lifecycle of a procedure (届出), as a table of allowed transitions (pure).

    draft → checked → ready → submitted → accepted → completed
                                 └──────→ returned (補正) → draft (after an edit) …
    any state but completed / withdrawn → withdrawn

`checked` means every field the form requires passed validation; an edit sends a checked or
returned procedure back to draft. submitted / accepted / returned / completed follow the e-filing
service's status events (or a manual record for paper filings)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    DRAFT = "draft"
    CHECKED = "checked"
    READY = "ready"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


FINAL = frozenset({State.COMPLETED, State.WITHDRAWN})
OPEN_BEFORE_FILING = frozenset({State.DRAFT, State.CHECKED, State.READY, State.RETURNED})
EDITABLE = frozenset({State.DRAFT, State.CHECKED, State.RETURNED})

TRANSITIONS: dict[State, frozenset[State]] = {
    State.DRAFT: frozenset({State.CHECKED, State.WITHDRAWN}),
    State.CHECKED: frozenset({State.DRAFT, State.READY, State.WITHDRAWN}),
    State.READY: frozenset({State.DRAFT, State.SUBMITTED, State.WITHDRAWN}),
    State.SUBMITTED: frozenset({State.ACCEPTED, State.RETURNED, State.COMPLETED, State.WITHDRAWN}),
    State.ACCEPTED: frozenset({State.RETURNED, State.COMPLETED, State.WITHDRAWN}),
    State.RETURNED: frozenset({State.DRAFT, State.SUBMITTED, State.WITHDRAWN}),
    State.COMPLETED: frozenset(),
    State.WITHDRAWN: frozenset(),
}


def can_move(src: str, dst: str) -> bool:
    return State(dst) in TRANSITIONS[State(src)]
