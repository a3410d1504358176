"""CSV export of the log screen: UTF-8 with a byte-order mark (what Excel needs to read Japanese
text, the office default), CRLF lines, streamed page by page — never the whole log in memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterator
from datetime import datetime

from services.audit_log import repository
from services.audit_log.models import AuditEntry
from services.audit_log.repository import EntryFilter
from shared.clock import JST
from shared.db import Database

BOM = "\ufeff"
HEADER = ["日時", "区分", "操作", "利用者種別", "利用者ID", "接続元IPアドレス", "事業所ID", "対象", "内容",
          "リクエストID", "連番", "記録日時", "イベントID"]
CATEGORY_LABELS = {"login": "ログイン履歴", "operation": "操作ログ"}


def _time(at: datetime) -> str:
    return at.astimezone(JST).isoformat(timespec="seconds")


def row(e: AuditEntry) -> list[str]:
    return [
        _time(e.occurred_at), CATEGORY_LABELS.get(e.category, e.category), e.type, e.actor_kind, e.actor_id,
        e.actor_ip or "", e.jigyosho_id or "", " ".join(f"{k}={v}" for k, v in e.subject.items()),
        json.dumps(e.data, ensure_ascii=False, sort_keys=True), e.trace_id or "", str(e.tenant_seq),
        _time(e.recorded_at), e.event_id,
    ]


def _neutralise(cell: str) -> str:
    """A cell Excel would read as a formula is prefixed with a quote (CSV injection)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def csv_chunks(db: Database, tenant_id: str, flt: EntryFilter, *, now: datetime,
               jigyosho_scope: Collection[str] | None, page_size: int) -> Iterator[bytes]:
    """The export, one chunk per page of `page_size` entries, each read in a short session of its own."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write(BOM)
    writer.writerow(HEADER)
    before: int | None = None
    while True:
        with db.sessions() as session:
            page = repository.entries(session, tenant_id, flt, now=now, jigyosho_scope=jigyosho_scope,
                                      before=before, limit=page_size)
            for e in page:
                writer.writerow([_neutralise(c) for c in row(e)])
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
        if len(page) < page_size:
            return
        before = page[-1].seq
