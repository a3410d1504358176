"""Submission packages as e-Gov takes them (EGOV-API.md §3, EGOV-XML.md §1–§4).

One root folder named by the 手続ID holds kousei.xml (構成管理XML, root `DataRoot`, no namespaces),
one 申請書XML per form and the attachments kousei.xml declares; the folder is zipped and sent as
base64. Signing (XMLDSig, shared.xmldsig) covers `#構成情報`, each 申請書 file and each attachment. A withdrawal
(取下げ依頼) uses 手続ID 9990000000000003 and torisageirai.xml, in the original procedure's folder.

Unconfirmed points (kept as the sources have them, see docs/efiling.md): the position of
添付書類属性情報 (we follow K and S: right after 管理情報); 受付行政機関ID = "100" + proc_id[:3]
(an inference) unless the procedure data says otherwise; UTF-8 everywhere."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from services.efiling.rules.procedures import FormSpec, Procedure
from shared import xmldsig

KOUSEI = "kousei.xml"
WITHDRAW_PROC_ID = "9990000000000003"
WITHDRAW_FORM_ID = "999000000000000003"
APPLICANT_FIELDS = ("氏名", "氏名フリガナ", "役職", "法人団体名", "法人団体名フリガナ", "部門名", "部門名フリガナ",
                    "郵便番号", "住所", "住所フリガナ", "電話番号", "FAX番号", "電子メールアドレス")


class PackageError(Exception):
    """Form data that cannot become a package; `field` names the item."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Attachment:
    label: str  # 添付書類名称
    file_name: str  # in the folder, as declared in 添付書類属性情報
    data: bytes


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


@dataclass
class Built:
    """A package: its files (by name inside the root folder), the ZIP and the send_file body."""

    folder: str
    files: dict[str, bytes]
    zip_bytes: bytes = b""
    file_name: str = ""
    signed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def file_data(self) -> str:
        return base64.b64encode(self.zip_bytes).decode()


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text:
        el.text = text
    return el


def _fill(parent: etree._Element, value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _fill(_el(parent, str(k)), v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        raise PackageError(path, "一覧は様式の要素名で指定してください")
    elif value is None:
        return
    else:
        parent.text = str(value)


def _doc(form_id: str, version: str, stylesheet: str) -> etree._Element:
    root = etree.Element("DataRoot")
    _el(root, "様式ID", form_id)
    _el(root, "様式バージョン", version)
    _el(root, "STYLESHEET", stylesheet)
    root.addprevious(etree.ProcessingInstruction("xml-stylesheet", f'href="{stylesheet}" type="text/xsl"'))
    return root


def _rows(spec: FormSpec, data: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The repeated elements' rows by element name: every slot the form has, empty ones as None
    (the form XML holds them all, as the skeleton does). More rows than slots is refused: how e-Gov
    takes a 続紙 is not in our notes (docs/efiling.md)."""
    slots: dict[str, list[Any]] = {}
    for key, groups in spec.repeats.items():
        rows = data.get(key) or []
        if not isinstance(rows, list | tuple):
            raise PackageError(key, "行の一覧で指定してください")
        room = sum(n for _, n in groups)
        if len(rows) > room:
            raise PackageError(key, f"{room}行を超えています（続紙での電子申請には対応していません）")
        start = 0
        for element, n in groups:
            part = list(rows[start:start + n])
            slots[element] = part + [None] * (n - len(part))
            start += n
    return slots


def form_xml(spec: FormSpec, data: Mapping[str, Any]) -> bytes:
    """One 申請書XML: the header fields, then the block element with the fields in the form's order
    (a list the form repeats becomes its repeated elements, spec.repeats)."""
    known = set(spec.fields) | set(spec.repeats) if spec.fields is not None else None
    for name in data:
        if known is not None and name not in known:
            raise PackageError(name, "この様式にない項目です")
    for name in spec.required:
        if data.get(name) in (None, "", {}):
            raise PackageError(name, "必須項目です")
    root = _doc(spec.form_id, spec.form_version, f"{spec.form_id}.xsl")
    for k, v in spec.header.items():
        _el(root, k, v)
    holder = _el(root, spec.block) if spec.block else root
    merged = {**spec.defaults, **data}
    rows = _rows(spec, merged)
    order = list(spec.fields) if spec.fields is not None else list(merged)
    for name in order:
        if name in spec.repeats:
            continue  # written as its elements, where the form lists them
        for i, value in enumerate(rows.get(name, [merged.get(name)])):
            _fill(_el(holder, name), value, name if name not in rows else f"{name}[{i}]")
    return xmldsig.serialize(root)


def kousei_xml(proc: Procedure, *, apply_type: str, applicant: Mapping[str, str], first_arrive_id: str = "",
               forms: list[tuple[FormSpec, str]], attachments: Sequence[Attachment] = (),
               corporate_number: str = "", proc_id: str | None = None, agency_id: str | None = None,
               form_doc_id: str = "999000000000000001") -> bytes:
    """構成管理XML. `forms` pairs each form with its file name."""
    root = _doc(form_doc_id, "0001", f"{form_doc_id}.xsl")
    kousei = _el(root, "構成情報")
    kousei.set("ID", "構成情報")
    mgmt = _el(kousei, "管理情報")
    number = _el(mgmt, "手続番号")
    _el(number, "受付行政機関ID", agency_id if agency_id is not None else proc.agency_id)
    _el(number, "手続ID", proc_id or proc.proc_id)
    _el(mgmt, "手続名称", proc.proc_name)
    _el(mgmt, "初回受付番号", first_arrive_id)
    _el(mgmt, "申請種別", apply_type)
    contacts = _el(mgmt, "申請者連絡先情報")
    for holder_name in ("申請者情報", "連絡先情報"):
        holder = _el(contacts, holder_name)
        for name in APPLICANT_FIELDS:
            _el(holder, name, applicant.get(name, ""))
    delegation = _el(contacts, "委任登録票添付情報")
    for name in ("発行番号", "委任登録票名称", "委任登録票ファイル名称"):
        _el(delegation, name)
    for att in attachments:
        a = _el(kousei, "添付書類属性情報")
        _el(a, "添付種別", "添付")
        _el(a, "添付書類名称", att.label)
        _el(a, "添付書類ファイル名称", att.file_name)
        _el(a, "提出情報", "1")
    _el(kousei, "通信欄")
    dest = _el(kousei, "提出先情報")
    _el(dest, "提出先識別子")
    _el(dest, "提出先名称")
    for spec, file_name in forms:
        f = _el(kousei, "申請書属性情報")
        _el(f, "申請書様式ID", spec.form_id)
        _el(f, "申請書様式バージョン", spec.form_version.zfill(4))
        _el(f, "申請書様式名称", spec.form_name)
        _el(f, "申請書ファイル名称", file_name)
    other = _el(root, "その他")
    _el(other, "法人番号", corporate_number)
    return xmldsig.serialize(root)


def _child(parent: etree._Element, tag: str) -> etree._Element:
    found = parent.find(tag)
    return found if found is not None else _el(parent, tag)


def kousei_from_skeleton(skeleton: bytes, proc: Procedure, *, apply_type: str, applicant: Mapping[str, str],
                         first_arrive_id: str = "", forms: list[tuple[FormSpec, str]],
                         attachments: Sequence[Attachment] = (), corporate_number: str = "") -> bytes:
    """構成管理XML filled in from the skeleton `GET /procedure/{proc_id}` handed out, the way real
    clients build it (EGOV-API.md §3): e-Gov's 手続番号, 手続名称 and 申請書属性情報 stay as e-Gov
    wrote them; we set 申請種別, 初回受付番号, the applicant (over the account's 基本情報 where we
    have a value), 添付書類属性情報 (after 管理情報) and 法人番号, and keep the 申請書属性情報 of the
    forms sent. A form whose version differs from e-Gov's is refused: a revision is a data change."""
    root = xmldsig.parse(skeleton)
    kousei = root.find("構成情報")
    mgmt = kousei.find("管理情報") if kousei is not None else None
    if kousei is None or mgmt is None:
        raise PackageError("kousei.xml", "手続の骨格に構成情報がありません")
    if (mgmt.findtext("手続番号/手続ID") or "").strip() != proc.proc_id:
        raise PackageError("手続ID", "手続の骨格が別の手続のものです")
    _child(mgmt, "初回受付番号").text = first_arrive_id or None
    _child(mgmt, "申請種別").text = apply_type
    contacts = _child(mgmt, "申請者連絡先情報")
    for holder_name in ("申請者情報", "連絡先情報"):
        holder = _child(contacts, holder_name)
        for name in APPLICANT_FIELDS:
            if applicant.get(name):
                _child(holder, name).text = applicant[name]
    for old in kousei.findall("添付書類属性情報"):
        kousei.remove(old)
    at = list(kousei).index(mgmt) + 1
    for i, att in enumerate(attachments):
        a = etree.Element("添付書類属性情報")
        _el(a, "添付種別", "添付")
        _el(a, "添付書類名称", att.label)
        _el(a, "添付書類ファイル名称", att.file_name)
        _el(a, "提出情報", "1")
        kousei.insert(at + i, a)
    sent = {name: spec for spec, name in forms}
    for attr in kousei.findall("申請書属性情報"):
        name = (attr.findtext("申請書ファイル名称") or "").strip()
        spec = sent.pop(name, None)
        if spec is None:
            kousei.remove(attr)
            continue
        theirs = ((attr.findtext("申請書様式ID") or "").strip(), (attr.findtext("申請書様式バージョン") or "").strip())
        if theirs != (spec.form_id, spec.form_version.zfill(4)):
            raise PackageError("申請書様式バージョン", f"e-Gov の様式 ({theirs[0]} 版 {theirs[1]}) と手続データ "
                               f"({spec.form_id} 版 {spec.form_version}) が異なります")
    if sent:
        raise PackageError("申請書属性情報", f"手続の骨格にない様式です: {', '.join(sorted(sent))}")
    other = root.find("その他")
    if other is None:
        other = _el(root, "その他")
    _child(other, "法人番号").text = corporate_number or None
    return xmldsig.serialize(root)


def zip_folder(folder: str, files: Mapping[str, bytes], prefix: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"{prefix}{folder}/{name}", data)
    return buf.getvalue()


def _finish(built: Built, signer: Signer | None, signed_files: list[str], now: datetime) -> Built:
    if signer is not None:
        built.files[KOUSEI] = xmldsig.sign_kousei(
            built.files[KOUSEI], {n: built.files[n] for n in signed_files}, signer.key, signer.cert,
            now.strftime("%Y%m%d%H%M%S"))
        built.signed = True
    built.zip_bytes = zip_folder(built.folder, built.files)
    built.file_name = f"{built.folder}.zip"
    return built


def application(proc: Procedure, form_data: Mapping[str, Mapping[str, Any]], applicant: Mapping[str, str], *,
                now: datetime, apply_type: str = "新規申請", first_arrive_id: str = "",
                attachments: list[Attachment] | None = None, signer: Signer | None = None,
                corporate_number: str = "", skeleton: Mapping[str, bytes] | None = None) -> Built:
    """A new application (新規申請), a 再提出 or a 部分補正 package. `form_data` maps form_id → fields.
    With `skeleton` (the files of `GET /procedure/{proc_id}`), kousei.xml is filled in from it and
    its other files (XSL, check files) travel in the package, as e-Gov hands them out."""
    atts = attachments or []
    files: dict[str, bytes] = {}
    forms = []
    for spec in proc.forms:
        data = form_data.get(spec.form_id)
        if data is None:
            if len(proc.forms) == 1:
                raise PackageError(spec.form_id, "様式のデータがありません")
            continue
        files[spec.file_name] = form_xml(spec, data)
        forms.append((spec, spec.file_name))
    names = {a.file_name for a in atts}
    if len(names) != len(atts) or names & {KOUSEI, *files}:
        raise PackageError("attachments", "添付書類のファイル名が重複しています")
    if skeleton is not None:
        if KOUSEI not in skeleton:
            raise PackageError("kousei.xml", "手続の骨格に構成管理XMLがありません")
        files[KOUSEI] = kousei_from_skeleton(skeleton[KOUSEI], proc, apply_type=apply_type, applicant=applicant,
                                             first_arrive_id=first_arrive_id, forms=forms, attachments=atts,
                                             corporate_number=corporate_number)
        unsent = {spec.file_name for spec in proc.forms} - set(files)
        for name, content in skeleton.items():
            if name in names:
                raise PackageError("attachments", f"添付書類のファイル名が手続のファイルと重複しています: {name}")
            if name not in unsent:
                files.setdefault(name, content)  # XSL and check files; our forms replace the skeleton's
    else:
        files[KOUSEI] = kousei_xml(proc, apply_type=apply_type, applicant=applicant,
                                   first_arrive_id=first_arrive_id, forms=forms, attachments=atts,
                                   corporate_number=corporate_number)
    for a in atts:
        files[a.file_name] = a.data
    # The signature covers every 申請書 and every attachment (a reference each, by file name).
    return _finish(Built(proc.proc_id, files), signer, [n for _, n in forms] + [a.file_name for a in atts], now)


def withdrawal(proc: Procedure, *, arrive_id: str, applicant_name: str, reason: str, on: date, now: datetime,
               signer: Signer | None = None) -> Built:
    """取下げ依頼: kousei.xml with 手続ID 9990000000000003 / 申請種別 取下げ依頼 / 初回受付番号 = the
    arrive_id, and torisageirai.xml, in the original procedure's folder (EGOV-XML.md §4)."""
    spec = FormSpec(WITHDRAW_FORM_ID, "0001", "取下げ依頼XML", None, {}, None, (), {})
    doc = _doc(WITHDRAW_FORM_ID, "0001", f"{WITHDRAW_FORM_ID}.xsl")
    info = _el(doc, "取下げ依頼情報")
    _el(info, "到達番号", arrive_id)
    _el(info, "手続名称", proc.proc_name)
    _el(info, "申請者氏名", applicant_name)
    when = _el(info, "依頼年月日")
    _el(when, "年", f"{on.year:04d}")
    _el(when, "月", f"{on.month:02d}")
    _el(when, "日", f"{on.day:02d}")
    _el(info, "理由", reason)
    files = {"torisageirai.xml": xmldsig.serialize(doc)}
    files[KOUSEI] = kousei_xml(proc, apply_type="取下げ依頼", applicant={}, first_arrive_id=arrive_id,
                               forms=[(spec, "torisageirai.xml")], proc_id=WITHDRAW_PROC_ID, agency_id="",
                               form_doc_id="999000000000000009")
    return _finish(Built(proc.proc_id, files), signer, ["torisageirai.xml"], now)


def bulk(packages: list[tuple[str, Built]]) -> bytes:
    """One ZIP for /bulk-apply: a top folder per application (`<folder>/<proc_id>/…`). The layout
    inside a bulk ZIP is not in our notes; this is the sandbox's reading (unconfirmed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder, built in packages:
            for name, data in built.files.items():
                zf.writestr(f"{folder}/{built.folder}/{name}", data)
    return buf.getvalue()
