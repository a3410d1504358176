"""Use cases of the e-Gov sandbox: receive an application, report a case."""

from __future__ import annotations

import base64
import binascii
import io
import secrets
import uuid
import zipfile
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.egov_sandbox.egov import EgovError
from services.egov_sandbox.models import SandboxCase
from services.egov_sandbox.schemas import ApplyRequest

RECEIVED = "到達"


def _new_arrival_number() -> str:
    # 16 digits, no leading zero: a client that stores it as a number loses nothing.
    return str(10**15 + secrets.randbelow(9 * 10**15))


def check_package(body: ApplyRequest) -> None:
    """The structure e-Gov requires of every package: a base64 ZIP whose entries all sit in one
    root folder named after the 手続ID (EGOV-API.md §3). The forms inside are checked later."""
    try:
        raw = base64.b64decode(body.send_file.file_data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EgovError(400, "send_file.file_data が Base64 形式ではありません") from exc
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise EgovError(400, "send_file.file_data が ZIP 形式ではありません") from exc
    root = f"{body.proc_id}/"
    if not names or any(not n.startswith(root) for n in names):
        raise EgovError(400, f"ZIP のルートフォルダは手続ID ({body.proc_id}) と同じ名前にしてください")


def receive_application(session: Session, body: ApplyRequest) -> SandboxCase:
    check_package(body)
    for _ in range(5):
        case = SandboxCase(id=str(uuid.uuid4()), arrival_number=_new_arrival_number(), proc_id=body.proc_id,
                           status=RECEIVED, received_at=datetime.now(UTC))
        try:
            # A savepoint per attempt: an arrival-number collision retries, never fails the send.
            with session.begin_nested():
                session.add(case)
                session.flush()
            return case
        except IntegrityError:
            continue
    raise EgovError(500, "到達番号を採番できませんでした")
