"""e-Gov 手続ID / 様式ID / 様式バージョン of the 雇用保険 procedures, as dated data.

Source: shared/EGOV-API.md §6 (LABOR_950 seeders, the "令和4年6月以降手続き" versions) and
shared/EGOV-XML.md §3 (取得届 様式 version 0001; the 離職証明書 is the second form
`495008680035800351` of the 喪失届 (離職票交付あり) procedure). e-Gov issues new ids when a form is
revised: a new row with its `effective_from` (and `effective_to` on the old one) is the change,
never code. **[要確認]**: every id must be confirmed with `GET /procedure/{proc_id}` before live
filing; the versions of forms other than the 取得届 are not in the notes and are taken as `0001`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Kind(StrEnum):
    SHIKAKU_SHUTOKU = "shikaku_shutoku"  # 資格取得届
    SHIKAKU_SOSHITSU = "shikaku_soshitsu"  # 資格喪失届 (離職票交付なし)
    SHIKAKU_SOSHITSU_RISHOKU = "shikaku_soshitsu_rishoku"  # 資格喪失届 + 離職証明書 (離職票交付あり)
    TENKIN = "tenkin"  # 転勤届


@dataclass(frozen=True)
class FormRef:
    form_id: str
    version: str
    role: str  # "main" | "rishoku_shomeisho"
    version_confirmed: bool


@dataclass(frozen=True)
class ProcedureForms:
    kind: Kind
    title: str
    proc_id: str
    forms: tuple[FormRef, ...]
    effective_from: date
    effective_to: date | None  # inclusive; None = still current
    source: str


R4_06 = date(2022, 6, 1)
_SRC = "EGOV-API.md §6 (LABOR_950 LedgerSeeder, 令和4年6月以降手続き) / EGOV-XML.md §3 [要確認]"

TABLE: tuple[ProcedureForms, ...] = (
    ProcedureForms(Kind.SHIKAKU_SHUTOKU, "雇用保険被保険者資格取得届", "4950008680033000",
                   (FormRef("495008680033800330", "0001", "main", True),), R4_06, None, _SRC),
    ProcedureForms(Kind.SHIKAKU_SOSHITSU, "雇用保険被保険者資格喪失届（離職票交付なし）", "4950008680034000",
                   (FormRef("495008680034800340", "0001", "main", False),), R4_06, None, _SRC),
    ProcedureForms(Kind.SHIKAKU_SOSHITSU_RISHOKU, "雇用保険被保険者資格喪失届（離職票交付あり）・離職証明書",
                   "4950008680035000",
                   (FormRef("495008680035800350", "0001", "main", False),
                    FormRef("495008680035800351", "0001", "rishoku_shomeisho", False)), R4_06, None, _SRC),
    ProcedureForms(Kind.TENKIN, "雇用保険被保険者転勤届", "4950008680040000",
                   (FormRef("495008680040800400", "0001", "main", False),), R4_06, None, _SRC),
)


class NoFormInForce(LookupError):
    pass


def forms_for(kind: Kind, on: date, table: tuple[ProcedureForms, ...] = TABLE) -> ProcedureForms:
    """The procedure's forms in force on `on` (the filing date). The latest matching row wins."""
    found = [r for r in table if r.kind == kind and r.effective_from <= on
             and (r.effective_to is None or on <= r.effective_to)]
    if not found:
        raise NoFormInForce(f"{kind}: no e-Gov form in force on {on.isoformat()}")
    return max(found, key=lambda r: r.effective_from)


ERAS: tuple[tuple[date, str], ...] = (
    (date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"), (date(1926, 12, 25), "昭和"), (date(1912, 7, 30), "大正"),
)


def wareki(d: date) -> dict[str, str]:
    """A date as e-Gov form elements {年号, 年, 月, 日}. The 年号 is written as text as in the 2015
    sample (EGOV-XML.md §3); whether the current 様式 wants a code is in its check.xml **[要確認]**."""
    for start, name in ERAS:
        if d >= start:
            return {"年号": name, "年": f"{d.year - start.year + 1:02d}", "月": f"{d.month:02d}", "日": f"{d.day:02d}"}
    raise ValueError("dates before 大正 are not supported")
