"""Payroll intake (issue 25): the file's encoding, named column mappings and Japanese values.

* Encoding: UTF-8 with a BOM, UTF-8, else CP932 (Windows Shift_JIS, what Japanese payroll and
  spreadsheet software writes); detected by strict decoding in that order. Japanese text in CP932
  is almost never valid UTF-8, and ASCII is the same in both.
* Mappings: {file header: Roumu column}. Built in: `roumu` (Roumu's own columns), `ja` (Japanese
  headers for persons) and `ja-wages` (Japanese headers for wage histories). A tenant may save
  its own under another name (mappings_api.py). Besides the Roumu columns a person mapping may
  name `name` (氏名: 姓 and 名 split at the first space), `name_kana` (フリガナ, likewise),
  `jigyosho_number` (雇用保険適用事業所番号) and `jigyosho_name` (事業所名): the 事業所 is found in
  the 事業所 master by number or by exact name.
* Values: dates as 2025-04-01, 2025/4/1, 20250401, 2025年4月1日 or 和暦 (令和7年4月1日, R7.4.1,
  H2.4.1, S60.4.1); 性別 男/女; 区分 取得・入社 / 喪失・退職; amounts with ',' and '円'; hours
  with '時間'.

No payroll product's own export layout is built in: none could be confirmed from the products'
public documentation (docs/koyo_hoken.md, "Payroll intake"); a tenant's saved mapping covers them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from shared.errors import ProblemError

Encoding = Literal["utf-8-sig", "utf-8", "cp932"]
Target = Literal["persons", "wages"]
BOM = b"\xef\xbb\xbf"


def decode(raw: bytes) -> tuple[str, Encoding]:
    """The text and the encoding it was in (see the module docstring)."""
    if raw.startswith(BOM):
        try:
            return raw[len(BOM):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    else:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        try:
            return raw.decode("cp932"), "cp932"
        except UnicodeDecodeError:
            pass
    raise ProblemError(422, "validation", "CSVの文字コードを判別できません",
                       "UTF-8（BOM付き・なし）または Shift_JIS（CP932）で保存してください")


@dataclass(frozen=True)
class Mapping_:
    name: str
    target: Target
    columns: Mapping[str, str]  # file header → Roumu column
    default_action: str | None = None  # persons: the action of rows without one
    builtin: bool = True


PERSON_SPECIAL = ("name", "name_kana", "jigyosho_number", "jigyosho_name")
WAGE_COLUMNS = ("insured_person_id", "employee_number", "hihokensha_bango", "kind", "period_start", "period_end",
                "paid_on", "basic_days", "hours", "wages_a", "wages_b", "bonus")
DATE_COLUMNS = {"birth_date", "hire_date", "contract_end", "residence_period_end", "leave_date", "period_start",
                "period_end", "paid_on"}
AMOUNT_COLUMNS = {"monthly_wage", "wages_a", "wages_b", "bonus", "basic_days"}

JA_PERSONS: dict[str, str] = {
    "区分": "action", "異動区分": "action",
    "事業所番号": "jigyosho_number", "雇用保険適用事業所番号": "jigyosho_number", "事業所名": "jigyosho_name",
    "従業員番号": "employee_number", "社員番号": "employee_number",
    "氏名": "name", "フリガナ": "name_kana", "氏名カナ": "name_kana",
    "姓": "family_name", "名": "given_name", "姓カナ": "family_name_kana", "名カナ": "given_name_kana",
    "生年月日": "birth_date", "性別": "gender",
    "資格取得日": "hire_date", "入社日": "hire_date", "雇入日": "hire_date",
    "週所定労働時間": "weekly_hours", "被保険者番号": "hihokensha_bango", "雇用保険被保険者番号": "hihokensha_bango",
    "雇用形態": "employment_type", "賃金月額": "monthly_wage", "職種": "job_type",
    "契約期間の末日": "contract_end", "契約更新条項": "renewal_clause",
    "国籍": "nationality", "在留資格": "residence_status", "在留カード番号": "residence_card_number",
    "在留期間": "residence_period_end", "個人番号": "my_number",
    "離職日": "leave_date", "退職日": "leave_date", "喪失原因": "soshitsu_cause",
    "離職証明書": "with_rishoku_shomeisho", "離職区分": "rishoku_reason_code",
}
JA_WAGES: dict[str, str] = {
    "従業員番号": "employee_number", "社員番号": "employee_number", "被保険者番号": "hihokensha_bango",
    "区分": "kind", "賃金計算期間開始日": "period_start", "期間開始日": "period_start",
    "賃金計算期間終了日": "period_end", "賃金締切日": "period_end", "期間終了日": "period_end",
    "支給日": "paid_on", "支払基礎日数": "basic_days", "労働時間": "hours",
    "賃金額A": "wages_a", "月給等": "wages_a", "賃金額B": "wages_b", "日給・時給等": "wages_b", "賞与": "bonus",
}


def _identity(columns: tuple[str, ...]) -> dict[str, str]:
    return {c: c for c in columns}


def builtin(name: str, person_columns: tuple[str, ...]) -> Mapping_ | None:
    if name == "roumu":
        return Mapping_("roumu", "persons", _identity(person_columns))
    if name == "ja":
        return Mapping_("ja", "persons", JA_PERSONS, default_action="hire")
    if name == "roumu-wages":
        return Mapping_("roumu-wages", "wages", _identity(WAGE_COLUMNS))
    if name == "ja-wages":
        return Mapping_("ja-wages", "wages", JA_WAGES)
    return None


BUILTIN_NAMES = ("roumu", "ja", "roumu-wages", "ja-wages")

# --- values -------------------------------------------------------------------------------------

ERAS = {"明治": 1867, "大正": 1911, "昭和": 1925, "平成": 1988, "令和": 2018,
        "M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_KANJI = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
_WAREKI = re.compile(r"^(明治|大正|昭和|平成|令和|[MTSHR])(元|\d{1,2})(?:年|[-/.])(\d{1,2})(?:月|[-/.])(\d{1,2})日?$")


class ValueProblem(ValueError):
    """A cell that cannot be read; the message is shown to the user (Japanese)."""


def nfkc(v: str) -> str:
    return unicodedata.normalize("NFKC", v).strip()


def parse_date(v: str) -> date:
    s = nfkc(v).upper()
    m = _ISO.match(s) or _COMPACT.match(s) or _KANJI.match(s)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        w = _WAREKI.match(s)
        if w:
            year = 1 if w[2] == "元" else int(w[2])
            return date(ERAS[w[1]] + year, int(w[3]), int(w[4]))
    except ValueError:
        raise ValueProblem("存在しない日付です") from None
    raise ValueProblem("日付は 2025-04-01、2025/4/1、令和7年4月1日 などの形式で入力してください")


def parse_amount(v: str) -> str:
    s = nfkc(v).replace(",", "").removesuffix("円").strip()
    if not re.fullmatch(r"-?\d+", s):
        raise ValueProblem("整数（円・日数）で入力してください")
    return s


GENDERS = {"男": "male", "男性": "male", "1": "male", "M": "male", "MALE": "male",
           "女": "female", "女性": "female", "2": "female", "F": "female", "FEMALE": "female"}
ACTIONS = {"取得": "hire", "入社": "hire", "採用": "hire", "HIRE": "hire",
           "喪失": "leave", "退職": "leave", "離職": "leave", "LEAVE": "leave"}
EMPLOYMENT = {"正社員": "regular", "パート": "part_time", "アルバイト": "part_time", "パートタイマー": "part_time",
              "契約社員": "fixed_term", "有期": "fixed_term", "派遣": "dispatched", "季節": "seasonal",
              "日雇": "daily", "船員": "seafarer", "その他": "other"}
KINDS = {"給与": "monthly", "月例": "monthly", "MONTHLY": "monthly", "賞与": "bonus", "BONUS": "bonus"}


def normalize(column: str, v: str) -> str:
    """One cell in Roumu's terms (raises ValueProblem)."""
    if v == "":
        return v
    if column in DATE_COLUMNS:
        return parse_date(v).isoformat()
    if column in AMOUNT_COLUMNS:
        return parse_amount(v)
    if column in ("weekly_hours", "hours"):
        s = nfkc(v).removesuffix("時間").strip()
        if not re.fullmatch(r"\d+(\.\d+)?", s):
            raise ValueProblem("時間数は数値で入力してください（例 12.5）")
        return s
    if column == "gender":
        return GENDERS.get(nfkc(v).upper(), v)
    if column == "action":
        return ACTIONS.get(nfkc(v).upper(), v)
    if column == "employment_type":
        return EMPLOYMENT.get(nfkc(v), v)
    if column == "kind":
        return KINDS.get(nfkc(v).upper(), v)
    return v


def split_name(v: str) -> tuple[str, str]:
    """姓 and 名 at the first space (full- or half-width)."""
    parts = re.split(r"[ \u3000]+", v.strip(), maxsplit=1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ValueProblem("姓と名の間に空白を入れてください")
    return parts[0], parts[1]


PYDANTIC_JA = {
    "missing": "必須項目です",
    "date_from_datetime_parsing": "日付の形式が正しくありません", "date_parsing": "日付の形式が正しくありません",
    "date_from_datetime_inexact": "日付の形式が正しくありません",
    "decimal_parsing": "数値で入力してください", "decimal_max_places": "小数点以下の桁数が多すぎます",
    "decimal_max_digits": "桁数が多すぎます", "decimal_whole_digits": "桁数が多すぎます",
    "int_parsing": "整数で入力してください", "literal_error": "選択できない値です", "enum": "選択できない値です",
    "less_than_equal": "値が大きすぎます", "greater_than_equal": "値が小さすぎます",
    "string_too_long": "文字数が多すぎます", "string_too_short": "入力してください",
    "string_pattern_mismatch": "形式が正しくありません", "bool_parsing": "1 または 0 で入力してください",
}


def pydantic_message(error_type: str, msg: str) -> str:
    """A Japanese message for a pydantic error (our validators' messages are Japanese already)."""
    if error_type == "value_error":
        return msg.removeprefix("Value error, ")
    return PYDANTIC_JA.get(error_type, "入力内容が正しくありません")
