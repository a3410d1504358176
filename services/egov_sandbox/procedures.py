"""The procedures the sandbox knows (data/procedures.json), and the skeleton ZIP of
`GET /procedure/{proc_id}` (手続選択) that clients build their packages from.

The skeleton follows the spec's layout (results_procedure.file_data): one root folder named by the
手続ID holding 構成管理XML (kousei.xml) with its XSL and check file, and per 様式 the 申請書XML
(`<form_id>_01.xml`), its XSL (`<form_id>.xsl`) and check file (`<form_id>check.xml`), as
EGOV-XML.md §1 lists them. kousei.xml carries the procedure's 手続番号 / 手続名称 and one
申請書属性情報 per 様式; the form XML carries its 基本情報 (様式ID, 様式バージョン, STYLESHEET and the
header fields, and the block's elements, empty, where a source lists them). The XSL and check
files are placeholders: e-Gov's are not public."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

DATA = Path(__file__).resolve().parent / "data" / "procedures.json"
KOUSEI_FORM_ID = "999000000000000001"
APPLICANT_FIELDS = ("氏名", "氏名フリガナ", "役職", "法人団体名", "法人団体名フリガナ", "部門名", "部門名フリガナ",
                    "郵便番号", "住所", "住所フリガナ", "電話番号", "FAX番号", "電子メールアドレス")


@dataclass(frozen=True)
class Form:
    form_id: str
    form_version: str
    form_name: str
    header: dict[str, str]
    block: str | None
    # The block's elements in order, each as often as the form repeats it; () where no source
    # lists them (the block is then handed out empty).
    fields: tuple[str, ...] = ()

    @property
    def apply_file_name(self) -> str:
        return f"{self.form_id}_01.xml"


@dataclass(frozen=True)
class Procedure:
    proc_id: str
    proc_name: str
    agency_id: str
    forms: tuple[Form, ...]


@cache
def catalogue() -> dict[str, Procedure]:
    raw: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return {p["proc_id"]: Procedure(p["proc_id"], p["proc_name"], p["agency_id"], tuple(
        Form(f["form_id"], f["form_version"], f["form_name"], dict(f.get("header") or {}), f.get("block"),
             _fields(f)) for f in p["forms"])) for p in raw["procedures"]}


def _fields(form: dict[str, Any]) -> tuple[str, ...]:
    repeat: dict[str, int] = form.get("repeat") or {}
    return tuple(name for name in form.get("fields") or () for _ in range(repeat.get(name, 1)))


def find(proc_id: str) -> Procedure | None:
    return catalogue().get(proc_id)


def _xml(stylesheet: str, body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet href="{stylesheet}" type="text/xsl"?>\n'
            f"<DataRoot>{body}</DataRoot>\n").encode()


def _header(form_id: str, version: str) -> str:
    return f"<様式ID>{form_id}</様式ID><様式バージョン>{version}</様式バージョン><STYLESHEET>{form_id}.xsl</STYLESHEET>"


def kousei_skeleton(proc: Procedure, applicant_name: str) -> bytes:
    """構成管理XML as e-Gov hands it out: the procedure filled, the applicant's 基本情報 (the
    sandbox knows only the account's name) in 申請者情報, the rest empty for the client."""
    def contacts(name: str) -> str:
        return "".join(f"<{f}>{escape(name) if f == '氏名' else ''}</{f}>" for f in APPLICANT_FIELDS)

    forms = "".join(
        f"<申請書属性情報><申請書様式ID>{f.form_id}</申請書様式ID><申請書様式バージョン>{f.form_version}"
        f"</申請書様式バージョン><申請書様式名称>{escape(f.form_name)}</申請書様式名称>"
        f"<申請書ファイル名称>{f.apply_file_name}</申請書ファイル名称></申請書属性情報>" for f in proc.forms)
    body = (
        _header(KOUSEI_FORM_ID, "0001")
        + '<構成情報 ID="構成情報"><管理情報><手続番号>'
        + f"<受付行政機関ID>{proc.agency_id}</受付行政機関ID><手続ID>{proc.proc_id}</手続ID></手続番号>"
        + f"<手続名称>{escape(proc.proc_name)}</手続名称><初回受付番号></初回受付番号><申請種別>新規申請</申請種別>"
        + f"<申請者連絡先情報><申請者情報>{contacts(applicant_name)}</申請者情報><連絡先情報>{contacts('')}"
        + "</連絡先情報><委任登録票添付情報><発行番号></発行番号><委任登録票名称></委任登録票名称>"
        + "<委任登録票ファイル名称></委任登録票ファイル名称></委任登録票添付情報></申請者連絡先情報></管理情報>"
        + "<通信欄></通信欄><提出先情報><提出先識別子></提出先識別子><提出先名称></提出先名称></提出先情報>"
        + forms + "</構成情報><その他><法人番号></法人番号></その他>")
    return _xml(f"{KOUSEI_FORM_ID}.xsl", body)


def form_skeleton(form: Form) -> bytes:
    header = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in form.header.items())
    inner = "".join(f"<{name}></{name}>" for name in form.fields)
    block = f"<{form.block}>{inner}</{form.block}>" if form.block else inner
    return _xml(f"{form.form_id}.xsl", _header(form.form_id, form.form_version) + header + block)


def _placeholder_xsl(title: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<xsl:stylesheet version="1.0" '
            'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:template match="/">'
            f"<html><body><h1>{escape(title)}</h1></body></html></xsl:template></xsl:stylesheet>\n").encode()


def _placeholder_check(form_id: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<checkList formId="{form_id}"/>\n'.encode()


def skeleton(proc: Procedure, applicant_name: str) -> tuple[bytes, list[dict[str, Any]]]:
    """(ZIP bytes, file_info) of the procedure's skeleton."""
    files: dict[str, bytes] = {
        "kousei.xml": kousei_skeleton(proc, applicant_name),
        f"{KOUSEI_FORM_ID}.xsl": _placeholder_xsl("構成管理"),
        f"{KOUSEI_FORM_ID}check.xml": _placeholder_check(KOUSEI_FORM_ID),
    }
    info: list[dict[str, Any]] = []
    for f in proc.forms:
        files[f.apply_file_name] = form_skeleton(f)
        files[f"{f.form_id}.xsl"] = _placeholder_xsl(f.form_name)
        files[f"{f.form_id}check.xml"] = _placeholder_check(f.form_id)
        info.append({"form_id": f.form_id, "form_version": int(f.form_version), "form_name": f.form_name,
                     "apply_file_name": f.apply_file_name, "xsl_file_name": f"{f.form_id}.xsl",
                     "server_check_file_name": f"{f.form_id}check.xml"})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"{proc.proc_id}/{name}", data)
    return buf.getvalue(), info
