"""Test control of the sandbox, in memory: scripted outcomes and injected faults.

Reached over HTTP under /_sandbox/ (never under e-Gov's paths), so a test drives the sandbox the
way it drives any server. One sandbox process holds one control state."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["401", "500", "503", "drop", "slow"]
When = Literal["before", "after"]
Advance = Literal["poll", "manual"]
Outcome = Literal["complete", "correction", "reject", "stay", "custom"]

# The e-Gov status strings of 最終確認試験 data (EGOV-XML.md §6), verbatim; 却下 and 取下げ済 are the
# sandbox's own labels: no source shows what e-Gov calls a rejected or withdrawn case.
RECEIVED = "到達"
REVIEWING = "審査中"
AWAITING_CORRECTION = "審査中（補正待ち）"
FINISHED = "手続終了"
REJECTED = "却下"
WITHDRAWING = "到達（取下げ処理中）"
WITHDRAWN = "取下げ済"

DONE_WITH_DOCUMENT: dict[str, Any] = {"status": FINISHED, "document": True}
OUTCOMES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    # outcome: (steps after 到達, steps after an amend)
    "complete": ([{"status": REVIEWING}, DONE_WITH_DOCUMENT], []),
    "correction": ([{"status": REVIEWING}, {"status": AWAITING_CORRECTION, "notice": "補正"}],
                   [{"status": REVIEWING}, DONE_WITH_DOCUMENT]),
    "reject": ([{"status": REVIEWING}, {"status": REJECTED, "notice": "お知らせ"}], []),
    "stay": ([], []),
}


@dataclass
class Script:
    outcome: Outcome = "complete"
    # outcome "custom": the steps as given (e.g. an unknown status string), each {"status", …}.
    steps: list[dict[str, Any]] = field(default_factory=list)
    advance: Advance = "poll"
    withdraw: Literal["approve", "refuse"] = "approve"
    signature_required: bool = False

    def plan(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if self.outcome == "custom":
            return list(self.steps), []
        steps, after = OUTCOMES[self.outcome]
        return [dict(s) for s in steps], [dict(s) for s in after]


@dataclass
class Fault:
    kind: FaultKind
    path: str  # exact path, or a prefix ending in "*"
    method: str | None = None
    count: int = 1
    when: When = "before"
    delay_seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


class Control:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.scripts: dict[str, Script] = {}
        self.faults: list[Fault] = []

    def reset(self) -> None:
        with self._lock:
            self.scripts.clear()
            self.faults.clear()

    def set_script(self, proc_id: str | None, script: Script) -> None:
        with self._lock:
            self.scripts[proc_id or "*"] = script

    def script_for(self, proc_id: str) -> Script:
        with self._lock:
            return self.scripts.get(proc_id) or self.scripts.get("*") or Script()

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first matching fault, used up by one request."""
        with self._lock:
            for f in self.faults:
                if f.matches(method, path):
                    f.count -= 1
                    if f.count <= 0:
                        self.faults.remove(f)
                    return f
        return None
