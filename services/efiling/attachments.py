"""Attachments of a filing (添付書類): files of the files service, read once when the filing is
created, checked against our limits and kept (sealed) with the submission, so what was checked is
what every send carries.

e-Gov's own limits on attachments are not public (EGOV-XML.md §6), so these are ours, chosen
conservatively and documented in docs/efiling.md: PDF, JPEG or PNG (told by their first bytes, not
by a name or a declared type), at most 5 MB each, 10 MB together, 10 files. A file that breaks them,
is missing, or cannot be read yet (a virus scan pending) is refused with 422 naming the attachment,
before anything exists to send."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.efiling.documents import DocumentStore, StoreError
from services.efiling.egov.package import Attachment
from services.efiling.schemas import AttachmentIn
from shared.errors import ProblemError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
# (first bytes, extension): the types we send.
KINDS = ((b"%PDF-", "pdf"), (b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"))


@dataclass(frozen=True)
class Refusal:
    index: int
    message: str
    code: str


def kind_of(data: bytes) -> str | None:
    return next((ext for magic, ext in KINDS if data.startswith(magic)), None)


def file_name(index: int, ext: str) -> str:
    """The name inside the package: ASCII and numbered (the label carries the human name), so it
    can never collide with kousei.xml or a form file."""
    return f"tenpu{index + 1:02d}.{ext}"


def check(items: Sequence[tuple[str, bytes]]) -> tuple[list[Attachment], list[Refusal]]:
    """(label, bytes) → the package's attachments, or what is wrong with each."""
    refused: list[Refusal] = []
    out: list[Attachment] = []
    if len(items) > MAX_FILES:
        return [], [Refusal(MAX_FILES, f"添付書類は{MAX_FILES}件までです", "too_many")]
    total = 0
    for i, (label, data) in enumerate(items):
        ext = kind_of(data)
        if ext is None:
            refused.append(Refusal(i, "添付できるのは PDF・JPEG・PNG のファイルです", "type"))
            continue
        if len(data) > MAX_FILE_BYTES:
            refused.append(Refusal(i, f"1件 {MAX_FILE_BYTES // (1024 * 1024)} MB までです", "too_large"))
            continue
        total += len(data)
        out.append(Attachment(label, file_name(i, ext), data))
    if total > MAX_TOTAL_BYTES:
        refused.append(Refusal(len(items) - 1, f"添付書類は合計 {MAX_TOTAL_BYTES // (1024 * 1024)} MB までです",
                               "total_too_large"))
    return out, refused


def refuse(refused: Sequence[Refusal]) -> ProblemError:
    return ProblemError(422, "attachment-refused", "添付書類を送信できません",
                        "e-Gov に送る前に添付書類を確認してください",
                        errors=[{"field": f"body.attachments.{r.index}", "message": r.message, "code": r.code}
                                for r in refused])


def fetch(store: DocumentStore, tenant_id: str, wanted: Sequence[AttachmentIn]) -> list[Attachment]:
    """Read each file from the files service (the tenant's, with efiling's service token) and
    check it; 422 `attachment-refused` listing every refused one."""
    items: list[tuple[str, bytes]] = []
    refused: list[Refusal] = []
    for i, a in enumerate(wanted):
        try:
            data = store.get(tenant_id, a.file_id)
        except StoreError as exc:
            if exc.status == 409:  # not servable yet (a virus scan pending) or quarantined
                refused.append(Refusal(i, "このファイルはまだ送信できません（ウイルス検査中か、内容がありません）",
                                       "not_ready"))
                continue
            raise ProblemError(502, "bad-gateway", "ファイルサービスに接続できません",
                               "しばらくしてから再度お試しください") from exc
        if data is None:
            refused.append(Refusal(i, "ファイルが見つかりません", "not_found"))
            continue
        items.append((a.label, data))
    if refused:
        raise refuse(refused)
    out, problems = check(items)
    if problems:
        raise refuse(problems)
    return out
