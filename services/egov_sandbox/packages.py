"""What the sandbox checks in a package, as e-Gov would (EGOV-API.md §3, EGOV-XML.md §1–§4 and its
closing "what this means for the sandbox validator" — inferences, not the official check rules).
Every Reference of a signature is checked, an attachment's as much as a 申請書's (by file name,
digest of the raw bytes); a signature need not reference the attachments, as the public clients
send them without (EGOV-XML.md §2).

A package is a base64 ZIP whose entries sit under one root folder named by the 手続ID, holding
kousei.xml, the 申請書 files its 申請書属性情報 names and the attachments its 添付書類属性情報
declares. A signature, when present, must verify. Problems come back as e-Gov `report_list` items."""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
from dataclasses import dataclass, field

from lxml import etree

from services.egov_sandbox import procedures
from shared import xmldsig

WITHDRAW_PROC_ID = "9990000000000003"
MAX_ENTRIES = 200


@dataclass
class Report:
    """One e-Gov report_list item; "-" where an element does not apply."""

    content: str
    file_name: str = "-"
    item: str = "-"
    form_name: str = "-"
    attached_file_name: str = "-"

    def as_dict(self) -> dict[str, str]:
        return {"form_name": self.form_name, "attached_file_name": self.attached_file_name,
                "file_name": self.file_name, "item": self.item, "content": self.content}


@dataclass
class Package:
    """An application folder that passed the checks: what e-Gov would record of it."""

    folder: str
    proc_id: str
    apply_type: str
    first_arrive_id: str
    proc_name: str
    applicant_name: str
    corporation_name: str
    forms: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    signed: bool = False


class PackageErrors(Exception):
    def __init__(self, reports: list[Report]) -> None:
        super().__init__("; ".join(r.content for r in reports))
        self.reports = reports


def decode_zip(file_data: str) -> dict[str, bytes]:
    try:
        raw = base64.b64decode(file_data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PackageErrors([Report("send_file.file_data が Base64 形式ではありません")]) from exc
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > MAX_ENTRIES * 50:
                raise PackageErrors([Report("ZIP のファイル数が多すぎます")])
            return {i.filename: zf.read(i) for i in infos}
    except zipfile.BadZipFile as exc:
        raise PackageErrors([Report("send_file.file_data が ZIP 形式ではありません")]) from exc


def _text(root: etree._Element, path: str) -> str:
    return (root.findtext(path) or "").strip()


def check_folder(folder: str, entries: dict[str, bytes], proc_id: str | None,
                 allowed_types: tuple[str, ...], signature_required: bool = False) -> Package:
    """Check one application folder (`<folder>/kousei.xml` …). `proc_id` None: take it from the
    kousei.xml (bulk). Raises PackageErrors listing everything wrong, not just the first."""
    reports: list[Report] = []
    kousei_name = f"{folder}/kousei.xml"
    if kousei_name not in entries:
        raise PackageErrors([Report("構成管理XML (kousei.xml) がありません", file_name="kousei.xml")])
    try:
        root = xmldsig.parse(entries[kousei_name])
    except xmldsig.SignatureError as exc:
        raise PackageErrors([Report(str(exc), file_name="kousei.xml")]) from exc
    if root.tag != "DataRoot":
        reports.append(Report("ルート要素は DataRoot です", file_name="kousei.xml"))
    kousei = next((el for el in root.iter() if isinstance(el.tag, str) and el.get("ID") == "構成情報"), None)
    if kousei is None:
        raise PackageErrors([*reports, Report('構成情報 (ID="構成情報") がありません', file_name="kousei.xml",
                                              item="構成情報")])
    declared_proc = _text(kousei, "管理情報/手続番号/手続ID")
    apply_type = _text(kousei, "管理情報/申請種別")
    if apply_type not in allowed_types:
        reports.append(Report(f"申請種別「{apply_type}」はこの送信では受け付けられません", file_name="kousei.xml",
                              item="申請種別"))
    expected_proc = proc_id
    if "取下げ依頼" in allowed_types:
        expected_proc = WITHDRAW_PROC_ID
    if expected_proc is not None and declared_proc != expected_proc:
        reports.append(Report(f"手続ID が一致しません ({declared_proc})", file_name="kousei.xml", item="手続ID"))
    # 手続名称 must be the procedure's (for a withdrawal: the procedure being withdrawn). Procedures
    # the sandbox has no data for (e-Gov's test procedures, say) are not checked.
    known = procedures.find(proc_id if proc_id is not None else declared_proc)
    if not _text(kousei, "管理情報/手続名称"):
        reports.append(Report("手続名称がありません", file_name="kousei.xml", item="手続名称"))
    elif known is not None and _text(kousei, "管理情報/手続名称") != known.proc_name:
        reports.append(Report("手続名称が手続IDの手続と一致しません", file_name="kousei.xml", item="手続名称"))
    # An application names its applicant (a withdrawal leaves 申請者情報 empty, EGOV-XML.md §4).
    if "取下げ依頼" not in allowed_types and not _text(kousei, "管理情報/申請者連絡先情報/申請者情報/氏名"):
        reports.append(Report("申請者情報の氏名がありません", file_name="kousei.xml", item="氏名"))
    forms, attachments = [], []
    for attr in kousei.iterfind("申請書属性情報"):
        name = _text(attr, "申請書ファイル名称")
        form_name = _text(attr, "申請書様式名称") or "-"
        version = _text(attr, "申請書様式バージョン")
        if len(version) != 4 or not version.isdigit():
            reports.append(Report("申請書様式バージョンは4桁の数字です", form_name=form_name, file_name=name or "-",
                                  item="申請書様式バージョン"))
        if not name or f"{folder}/{name}" not in entries:
            reports.append(Report("申請書XMLがありません", form_name=form_name, file_name=name or "-"))
            continue
        try:
            form = xmldsig.parse(entries[f"{folder}/{name}"])
        except xmldsig.SignatureError as exc:
            reports.append(Report(str(exc), form_name=form_name, file_name=name))
            continue
        if _text(form, "様式ID") != _text(attr, "申請書様式ID"):
            reports.append(Report("様式ID が構成管理XMLと一致しません", form_name=form_name, file_name=name,
                                  item="様式ID"))
        reports += _layout(known, form, form_name, name)
        forms.append(form_name)
    if not forms and not reports:
        reports.append(Report("申請書属性情報がありません", file_name="kousei.xml", item="申請書属性情報"))
    for attr in kousei.iterfind("添付書類属性情報"):
        name = _text(attr, "添付書類ファイル名称")
        label = _text(attr, "添付書類名称") or "-"
        if not name or f"{folder}/{name}" not in entries:
            reports.append(Report("宣言された添付書類がありません", attached_file_name=label, file_name=name or "-"))
        else:
            attachments.append(label)
    files = {n.removeprefix(f"{folder}/"): b for n, b in entries.items() if n.startswith(f"{folder}/")}
    signed = False
    try:
        found = xmldsig.verify_kousei(entries[kousei_name], files)
        signed = bool(found)
    except xmldsig.SignatureError as exc:
        reports.append(Report(f"電子署名の検証に失敗しました: {exc}", file_name="kousei.xml", item="署名情報"))
    if signature_required and not signed and not any(r.item == "署名情報" for r in reports):
        reports.append(Report("この手続には電子署名が必要です", file_name="kousei.xml", item="署名情報"))
    if reports:
        raise PackageErrors(reports)
    applicant = kousei.find("管理情報/申請者連絡先情報/申請者情報")
    return Package(
        folder=folder, proc_id=declared_proc, apply_type=apply_type,
        first_arrive_id=_text(kousei, "管理情報/初回受付番号"), proc_name=_text(kousei, "管理情報/手続名称"),
        applicant_name=_text(applicant, "氏名") if applicant is not None else "",
        # "-" where there is none: the spec wants a non-empty corporation_name, and "-" is e-Gov's "n/a"
        corporation_name=(_text(applicant, "法人団体名") if applicant is not None else "") or "-",
        forms=forms, attachments=attachments, signed=signed,
    )


def _layout(proc: procedures.Procedure | None, form: etree._Element, form_name: str, file_name: str) -> list[Report]:
    """Where the procedure data lists a form's block elements (the skeleton hands them out), a
    block that is sent holds exactly those, in that order."""
    spec = next((f for f in proc.forms if f.form_id == _text(form, "様式ID")), None) if proc else None
    if spec is None or spec.block is None or not spec.fields:
        return []
    block = form.find(spec.block)
    if block is None:
        return []
    if [str(c.tag) for c in block if isinstance(c.tag, str)] != list(spec.fields):
        return [Report("様式の項目（要素名・順序）が手続の様式と一致しません", form_name=form_name, file_name=file_name,
                       item=spec.block)]
    return []


def check_single(file_data: str, proc_id: str | None, allowed_types: tuple[str, ...],
                 signature_required: bool = False) -> Package:
    """A /apply, /apply/check, /apply/amend or /apply/withdraw package: one root folder."""
    entries = decode_zip(file_data)
    roots = {n.split("/", 1)[0] for n in entries}
    if proc_id is not None and (roots != {proc_id} or any("/" not in n for n in entries)):
        raise PackageErrors([Report(f"ZIP のルートフォルダは手続ID ({proc_id}) と同じ名前にしてください")])
    if len(roots) != 1 or any("/" not in n for n in entries):
        raise PackageErrors([Report("ZIP には手続IDのフォルダを1つだけ入れてください")])
    return check_folder(roots.pop(), entries, proc_id, allowed_types, signature_required)


def bulk_folders(file_data: str) -> tuple[dict[str, bytes], list[str]]:
    """A /bulk-apply ZIP: one folder per application at the top (`<folder>/<proc_id>/kousei.xml`).

    The layout inside a bulk ZIP is not in our notes (EGOV-API.md §3 says only "several application
    folders in one ZIP"); the sandbox takes each top folder as one application whose inner folder
    is named by its 手続ID, in sorted order. Unconfirmed."""
    entries = decode_zip(file_data)
    folders = sorted({n.split("/", 1)[0] for n in entries if "/" in n})
    if not folders:
        raise PackageErrors([Report("一括申請データに申請フォルダがありません")])
    return entries, folders


def check_bulk_folder(folder: str, entries: dict[str, bytes]) -> Package:
    inner = {n.removeprefix(f"{folder}/"): b for n, b in entries.items() if n.startswith(f"{folder}/")}
    roots = {n.split("/", 1)[0] for n in inner}
    if len(roots) != 1 or any("/" not in n for n in inner):
        raise PackageErrors([Report("申請フォルダには手続IDのフォルダを1つだけ入れてください")])
    root = roots.pop()
    pkg = check_folder(root, inner, root, ("新規申請", "再提出"))
    pkg.folder = folder
    return pkg
