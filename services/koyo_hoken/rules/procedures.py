"""What each 届出 requires and the form data it produces (pure).

Field names of the form data are e-Gov's element names (shared/EGOV-XML.md §3, the 取得届 template
`495008680033800330`; the 離職証明書 `495008680035800351` elements). The value domains (codes) of
the forms are in each form's check.xml, which is **not public** [要確認]: codes below are written
as the human-readable value plus our own code, and the e-filing service maps them when it packages
(see docs/koyo_hoken.md). Dates are 和暦 elements {年号, 年, 月, 日}.

Validation returns problems (field, message, severity): "error" blocks `checked`; "warning" is
shown but never blocks (a rule marked 要確認 must never reject data on a guess)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from services.koyo_hoken.rules import rishoku
from services.koyo_hoken.rules.eligibility import Facts, Student, decide
from services.koyo_hoken.rules.forms import Kind, ProcedureForms, wareki
from services.koyo_hoken.rules.numbers import NumberFormatError, parse_hihokensha_bango, parse_jigyosho_bango
from shared.jp_text import egov_rejected_chars

Severity = Literal["error", "warning"]

# 喪失原因 on the 資格喪失届 [確認 as the form's three choices]: 1 離職以外の理由 (死亡・在籍出向・
# 役員就任等), 2 3以外の離職, 3 事業主の都合による離職.
SOSHITSU_CAUSES = {"1": "離職以外の理由", "2": "3以外の離職", "3": "事業主の都合による離職"}
# 離職区分 codes as printed on the 離職票 [要確認: the list is from the 離職票 layout, not from
# a source in DOMAIN.md]; an unknown code is a warning, never an error.
RISHOKU_REASON_CODES = {"1A", "1B", "2A", "2B", "2C", "2D", "2E", "3A", "3B", "3C", "3D", "4D", "5E"}
# 被保険者となったことの原因 [要確認 codes]: 1 新規雇用（新規学卒）, 2 新規雇用（その他）, 3 日雇からの切替,
# 4 その他 (出向元への復帰等).
SHUTOKU_CAUSES = {"1": "新規雇用（新規学卒）", "2": "新規雇用（その他）", "3": "日雇からの切替", "4": "その他"}
GENDER = {"male": "男", "female": "女"}


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    severity: Severity = "error"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "severity": self.severity}


@dataclass(frozen=True)
class Person:
    """The insured person's facts the forms need (My Number only as `my_number` when the caller
    may see it; otherwise None and `my_number_registered` says whether one exists)."""

    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: date
    hire_date: date
    weekly_hours: Decimal
    gender: str | None = None
    nationality: str | None = None
    romaji_name: str | None = None
    residence_status: str | None = None
    residence_card_number: str | None = None
    residence_period_end: date | None = None
    outside_status_permission: bool | None = None
    dispatch_or_contract_work: bool | None = None
    hihokensha_bango: str | None = None
    contract_end: date | None = None
    renewal_clause: bool = False
    employment_type: str | None = None
    wage_payment: str | None = None
    monthly_wage: int | None = None
    job_type: str | None = None
    student: str = "none"
    my_number_registered: bool = False
    my_number: str | None = None


@dataclass(frozen=True)
class Checked:
    problems: tuple[Problem, ...]
    certificate: rishoku.Certificate | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def is_foreign(p: Person) -> bool:
    return p.nationality is not None and p.nationality.strip().upper() not in ("JP", "JPN", "日本")


def _text_problems(p: Person) -> list[Problem]:
    out = []
    for name in ("family_name", "given_name", "family_name_kana", "given_name_kana"):
        for r in egov_rejected_chars(getattr(p, name)):
            out.append(Problem(f"person.{name}", f"{r.index + 1}文字目「{r.char}」: {r.reason}"))
    return out


def _require(obj: Any, names: list[str], prefix: str) -> list[Problem]:
    return [Problem(f"{prefix}.{n}", "必須項目です") for n in names if getattr(obj, n, None) in (None, "")]


def _number(p: Person, required: bool) -> list[Problem]:
    if not p.hihokensha_bango:
        return [Problem("person.hihokensha_bango", "被保険者番号が必要です")] if required else []
    try:
        n = parse_hihokensha_bango(p.hihokensha_bango)
    except NumberFormatError as e:
        return [Problem("person.hihokensha_bango", str(e))]
    if n.legacy:
        return [Problem("person.hihokensha_bango", "チェックディジットのない旧番号です（そのまま届け出ます）",
                        "warning")]
    return []


def _jigyosho_number(details: dict[str, Any], key: str = "jigyosho_number") -> list[Problem]:
    value = details.get(key)
    if not value:
        return [Problem(f"details.{key}", "雇用保険適用事業所番号が必要です")]
    try:
        parse_jigyosho_bango(str(value))
    except NumberFormatError as e:
        return [Problem(f"details.{key}", str(e))]
    return []


def check(kind: Kind, p: Person, event_date: date, details: dict[str, Any]) -> Checked:
    """Every field the form of `kind` requires (see module docstring)."""
    problems = _text_problems(p)
    problems += _jigyosho_number(details)
    cert: rishoku.Certificate | None = None
    if kind is Kind.SHIKAKU_SHUTOKU:
        problems += _number(p, required=False)
        problems += _require(p, ["gender", "employment_type", "job_type", "wage_payment", "monthly_wage"], "person")
        if details.get("cause") not in SHUTOKU_CAUSES:
            problems.append(Problem("details.cause", "被保険者となったことの原因（1〜4）を指定してください"))
        if not p.my_number_registered:
            problems.append(Problem("person.my_number", "個人番号が未登録です（届出には個人番号の記載が必要です）",
                                    "warning"))
        if is_foreign(p):
            problems += _require(p, ["romaji_name", "residence_status", "residence_card_number",
                                     "residence_period_end", "outside_status_permission",
                                     "dispatch_or_contract_work"], "person")
        d = decide(Facts(on=event_date, birth_date=p.birth_date, weekly_hours=p.weekly_hours,
                         employment_start=p.hire_date, contract_end=p.contract_end,
                         renewal_clause=p.renewal_clause, student=Student(p.student)))
        if not d.insured:
            problems.append(Problem("person", f"被保険者となりません: {d.reason}（{d.rule_version}）"))
    elif kind in (Kind.SHIKAKU_SOSHITSU, Kind.SHIKAKU_SOSHITSU_RISHOKU):
        problems += _number(p, required=True)
        if details.get("cause") not in SOSHITSU_CAUSES:
            problems.append(Problem("details.cause", "喪失原因（1〜3）を指定してください"))
        if event_date < p.hire_date:
            problems.append(Problem("event_date", "離職日が雇用開始日より前です"))
        with_cert = kind is Kind.SHIKAKU_SOSHITSU_RISHOKU
        if not with_cert and rishoku.required(p.birth_date, event_date):
            problems.append(Problem("with_rishoku_shomeisho",
                                    "離職日に59歳以上の方は離職証明書の提出が必要です（離職票交付ありの喪失届にしてください）"))
        if with_cert:
            code = details.get("rishoku_reason_code")
            if not code:
                problems.append(Problem("details.rishoku_reason_code", "離職理由コードが必要です"))
            elif code not in RISHOKU_REASON_CODES:
                problems.append(Problem("details.rishoku_reason_code", "既知の離職区分コードではありません（要確認）",
                                        "warning"))
            try:
                cert = rishoku.build(rishoku_input(p, event_date, details))
            except (rishoku.RishokuError, KeyError, ValueError, TypeError) as e:
                problems.append(Problem("details.wage_history", str(e) or "賃金の記録が読めません"))
            else:
                problems += [Problem("details.wage_history", f, "warning") for f in cert.flags]
    elif kind is Kind.TENKIN:
        problems += _number(p, required=True)
        problems += _jigyosho_number(details, "from_jigyosho_number")
        if not details.get("from_jigyosho_id"):
            problems.append(Problem("details.from_jigyosho_id", "転勤前の事業所が必要です"))
    return Checked(tuple(problems), cert)


def rishoku_input(p: Person, rishoku_date: date, details: dict[str, Any]) -> rishoku.Input:
    wh = details.get("wage_history") or {}
    periods = [rishoku.WagePeriod(date.fromisoformat(w["start"]), date.fromisoformat(w["end"]), int(w["basic_days"]),
                                  int(w["wages_a"]), int(w.get("wages_b", 0)),
                                  None if w.get("total") is None else int(w["total"]),
                                  None if w.get("hours") is None else Decimal(str(w["hours"])))
               for w in wh.get("periods", [])]
    slices = [rishoku.SliceDays(date.fromisoformat(s["start"]), int(s["basic_days"]),
                                None if s.get("hours") is None else Decimal(str(s["hours"])))
              for s in wh.get("slice_days", [])]
    return rishoku.Input(rishoku_date, p.hire_date, wh.get("pay_type", "monthly_full"), int(wh.get("closing_day", 31)),
                         periods, slices, bool(details.get("tokutei", False)))


def _bango(value: str | None) -> dict[str, str]:
    if not value:
        return {"被保険者番号4桁": "", "被保険者番号6桁": "", "被保険者番号CD": ""}
    n = parse_hihokensha_bango(value)
    return {"被保険者番号4桁": n.office, "被保険者番号6桁": n.serial, "被保険者番号CD": n.check or ""}


def _jbango(value: str) -> dict[str, str]:
    n = parse_jigyosho_bango(value)
    return {"事業所番号4桁": n.office, "事業所番号6桁": n.serial, "事業所番号CD": n.check or ""}


def _hours(h: Decimal) -> dict[str, str]:
    whole = int(h)
    return {"時間": str(whole), "分": str(int((h - whole) * 60))}


def form_data(kind: Kind, forms: ProcedureForms, p: Person, event_date: date, details: dict[str, Any],
              checked: Checked) -> dict[str, Any]:
    """The data the e-filing service packages: procedure and form ids/versions, and per form the
    e-Gov element names with their values. `個人番号` holds whatever `p.my_number` holds (the caller
    decides: digits for e-filing, masked for a screen)."""
    name = f"{p.family_name}\u3000{p.given_name}"
    kana = f"{p.family_name_kana}\u3000{p.given_name_kana}"
    main: dict[str, Any] = {
        "個人番号": p.my_number or "",
        "被保険者番号": _bango(p.hihokensha_bango),
        "事業所番号": _jbango(details["jigyosho_number"]),
    }
    docs: list[dict[str, Any]] = []
    if kind is Kind.SHIKAKU_SHUTOKU:
        main.update({
            "被保険者氏名": name, "被保険者氏名フリガナ": kana,
            "性別": GENDER.get(p.gender or "", ""), "生年月日": wareki(p.birth_date),
            "被保険者となったことの原因": details.get("cause", ""),
            "賃金": {"支払の態様": p.wage_payment or "", "賃金月額": str(p.monthly_wage or "")},
            "資格取得年月日": wareki(event_date),
            "雇用形態": p.employment_type or "", "職種": p.job_type or "",
            "一週間の所定労働時間": _hours(p.weekly_hours),
            "契約期間の定め": "有" if p.contract_end else "無",
        })
        if p.contract_end:
            main["契約期間の定めの有無"] = {"契約期間の定め有": {
                "契約期間開始": wareki(p.hire_date), "契約期間終了": wareki(p.contract_end),
                "契約更新条項有無": "有" if p.renewal_clause else "無"}}
        if is_foreign(p):
            main.update({
                "被保険者氏名ローマ字": p.romaji_name or "", "在留カード番号": p.residence_card_number or "",
                "在留期間": {"年": f"{p.residence_period_end.year:04d}", "月": f"{p.residence_period_end.month:02d}",
                             "日": f"{p.residence_period_end.day:02d}"} if p.residence_period_end else {},
                "資格外活動許可の有無": "有" if p.outside_status_permission else "無",
                "派遣_請負就労区分": "該当" if p.dispatch_or_contract_work else "非該当",
                "国籍_地域": p.nationality or "", "在留資格": p.residence_status or "",
            })
    elif kind in (Kind.SHIKAKU_SOSHITSU, Kind.SHIKAKU_SOSHITSU_RISHOKU):
        main.update({
            "被保険者氏名": name, "被保険者氏名フリガナ": kana, "性別": GENDER.get(p.gender or "", ""),
            "生年月日": wareki(p.birth_date), "資格取得年月日": wareki(p.hire_date),
            "離職等年月日": wareki(event_date), "喪失原因": details.get("cause", ""),
            "離職票交付希望": "有" if kind is Kind.SHIKAKU_SOSHITSU_RISHOKU else "無",
        })
    elif kind is Kind.TENKIN:
        main.update({
            "被保険者氏名": name, "被保険者氏名フリガナ": kana, "生年月日": wareki(p.birth_date),
            "転勤年月日": wareki(event_date), "転勤前の事業所番号": _jbango(details["from_jigyosho_number"]),
        })
    docs.append({"form_id": forms.forms[0].form_id, "version": forms.forms[0].version, "fields": main})
    if kind is Kind.SHIKAKU_SOSHITSU_RISHOKU and checked.certificate is not None and len(forms.forms) > 1:
        c = checked.certificate
        rows = []
        n = max(len(c.insured_rows), len(c.wage_rows))
        for i in range(n):
            ir = c.insured_rows[i] if i < len(c.insured_rows) else None
            wr = c.wage_rows[i] if i < len(c.wage_rows) else None
            rows.append({
                "被保険者期間算定対象期間_開始": ir.start.isoformat() if ir else "",
                "被保険者期間算定対象期間_終了": ir.end.isoformat() if ir else "",
                "賃金支払基礎日数": "" if ir is None or ir.basic_days is None else str(ir.basic_days),
                "賃金支払対象期間_開始": wr.start.isoformat() if wr else "",
                "賃金支払対象期間_終了": wr.end.isoformat() if wr else "",
                "賃金支払対象期間_基礎日数": str(wr.basic_days) if wr else "",
                "賃金額A": str(wr.wages_a) if wr else "", "賃金額B": str(wr.wages_b) if wr else "",
                "賃金額計": str(wr.total) if wr else "", "備考": "",
            })
        docs.append({"form_id": forms.forms[1].form_id, "version": forms.forms[1].version, "fields": {
            "離職者氏名": name, "離職者氏名_フリガナ": kana, "離職年月日": wareki(event_date),
            # 賃金支払状況等: the rows in order; e-filing writes them as the form's repeated elements.
            # No 続紙 count: no source names such an element (e-filing refuses rows beyond one sheet).
            "賃金支払状況等": rows, "離職理由": {"事業主記入欄": details.get("rishoku_reason_code", "")},
        }})
    return {"proc_id": forms.proc_id, "title": forms.title, "forms": docs}
