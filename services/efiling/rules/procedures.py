"""The e-Gov procedures Roumu files, read from data (services/efiling/data/procedures.json):
proc_id, form ids and versions change when forms are revised, so they are data with effective
dates, never constants in code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "procedures.json"


@dataclass(frozen=True)
class FormSpec:
    form_id: str
    form_version: str
    form_name: str
    # The element that holds the fields (資格取得届: G00005-A-250045-001_1); None: fields at DataRoot.
    block: str | None
    header: dict[str, str]
    # The fields in document order; None when the layout is not in our notes (any order accepted).
    fields: tuple[str, ...] | None
    required: tuple[str, ...]
    defaults: dict[str, str]
    # A list in the form data written as repeated elements (離職証明書: 賃金支払状況等 → one
    # 賃金支払状況等1, then up to 12 賃金支払状況等2): data key → ((element, how many), …).
    repeats: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.form_id}_01.xml"


@dataclass(frozen=True)
class Procedure:
    code: str
    proc_id: str
    proc_name: str
    agency_id: str
    effective_from: date
    effective_to: date | None
    signature: str
    forms: tuple[FormSpec, ...] = field(default_factory=tuple)
    source: str = ""
    # Values no source confirms (docs/efiling.md): said in the data, never guessed silently.
    unconfirmed: tuple[str, ...] = ()


def _form(d: dict[str, Any]) -> FormSpec:
    return FormSpec(d["form_id"], d["form_version"], d["form_name"], d.get("block"), dict(d.get("header") or {}),
                    tuple(d["fields"]) if d.get("fields") else None, tuple(d.get("required") or ()),
                    dict(d.get("defaults") or {}),
                    {k: tuple((str(el), int(n)) for el, n in v) for k, v in (d.get("repeats") or {}).items()})


@cache
def catalogue(path: Path = DATA) -> tuple[Procedure, ...]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        Procedure(p["code"], p["proc_id"], p["proc_name"], p["agency_id"], date.fromisoformat(p["effective_from"]),
                  date.fromisoformat(p["effective_to"]) if p.get("effective_to") else None, p["signature"],
                  tuple(_form(f) for f in p["forms"]), p.get("source", ""), tuple(p.get("unconfirmed") or ()))
        for p in raw["procedures"]
    )


def find(proc_id: str, on: date, procedures: tuple[Procedure, ...] | None = None) -> Procedure | None:
    """The version of a procedure in force on a date (the filing date), or None."""
    for p in procedures if procedures is not None else catalogue():
        if p.proc_id == proc_id and p.effective_from <= on and (p.effective_to is None or on <= p.effective_to):
            return p
    return None
