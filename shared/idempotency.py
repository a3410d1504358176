"""Idempotency keys for POSTs (partner systems retry; a retry must not register twice).

A route that creates something takes an optional `Idempotency-Key` header. The first request with
a key runs and its answer (status, JSON body, Location/ETag) is stored with a fingerprint of the
request (method, path and the parsed body as canonical JSON), in the same transaction as the
change itself. Later requests from the same caller with the same key:

* same fingerprint → the stored answer again, with `Idempotent-Replayed: true`, nothing re-run;
* another fingerprint → 422 `idempotency-key-reused`: a key names one request, never two.

Keys are kept `RETENTION` (24 hours) at least; expired ones are deleted as new ones arrive. A
request that fails (any 4xx/5xx) is not remembered: it rolled back, so sending it again runs it
again. Two concurrent requests with one key: the second waits on the first's row (PostgreSQL) or
its transaction (SQLite's BEGIN IMMEDIATE), then fails to insert and answers the first's result.

The table (`idempotency_keys`) is attached to each service's own metadata, like the outbox; a
service adopting it adds it in a migration with `shared.migrations`-style `create_idempotency_table`.
efiling keeps its own per-filing key (a filing remembers the key that created it), which predates
this and answers the same way for the same key."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from shared.crypto import DataKeys
from shared.db import UtcDateTime
from shared.errors import ProblemError

RETENTION = timedelta(hours=24)
KEY_PATTERN = r"^[\x21-\x7E]{1,100}$"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Location", "ETag")
SEALED = "sealed"


def _aad(tenant_id: str, key: str) -> bytes:
    return f"idempotency:{tenant_id}:{key}".encode()

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", pattern=KEY_PATTERN,
    description="再送しても二重に登録しないためのキー (1〜100 文字の ASCII、要求ごとに一意、24 時間保持)。"
                "同じキーと同じ内容の再送は最初の応答を返し (Idempotent-Replayed: true)、別の内容なら 422")]


def key_reused() -> ProblemError:
    return ProblemError(422, "idempotency-key-reused", "この Idempotency-Key は別の内容の要求に使われています",
                        "要求ごとに新しいキーを指定してください")


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("tenant_id", String(36), primary_key=True),
        Column("caller", String(64), primary_key=True),  # the token's subject: keys are per caller
        Column("key", String(100), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=True),  # null while the first request runs
        Column("body", JSON, nullable=True),
        Column("headers", JSON, nullable=True),
        Column("created_at", UtcDateTime, nullable=False),
        Column("expires_at", UtcDateTime, nullable=False, index=True),
    )


def fingerprint(method: str, path: str, body: Any, secret: bytes | None = None) -> str:
    """SHA-256 of the method, the path and the body as canonical JSON (key order and whitespace
    do not count; a different value does). With `secret`, HMAC-SHA256 instead: for bodies holding
    a value with few possibilities (a My Number), so the stored fingerprint cannot be reversed by
    trying them all."""
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    message = f"{method.upper()} {path}\n{canonical}".encode()
    if secret is not None:
        return hmac.new(secret, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


@dataclass(frozen=True)
class Answer:
    """What a route answers: status, JSON-able body, headers to keep (Location, ETag)."""

    status_code: int
    body: Any
    headers: dict[str, str]

    def response(self, replayed: bool = False) -> JSONResponse:
        headers = dict(self.headers)
        if replayed:
            headers[REPLAYED_HEADER] = "true"
        return JSONResponse(jsonable_encoder(self.body), status_code=self.status_code, headers=headers)


class Idempotency:
    """The idempotency keys of one service's metadata."""

    def __init__(self, metadata: MetaData, retention: timedelta = RETENTION) -> None:
        self.table = idempotency_table(metadata)
        self.retention = retention

    def _claim(self, session: Session, tenant_id: str, caller: str, key: str, fp: str,
               now: datetime, seal: DataKeys | None) -> Answer | None:
        """None: this request holds the key now. An Answer: the key's stored result (same request)."""
        t = self.table
        where = (t.c.tenant_id == tenant_id, t.c.caller == caller[:64], t.c.key == key)
        row = session.execute(select(t).where(*where)).mappings().first()
        if row is not None and row["expires_at"] <= now:
            session.execute(delete(t).where(*where))
            row = None
        if row is None:
            session.execute(delete(t).where(t.c.expires_at <= now))
            with session.begin_nested():
                session.execute(insert(t).values(tenant_id=tenant_id, caller=caller[:64], key=key, fingerprint=fp,
                                                 created_at=now, expires_at=now + self.retention))
            return None
        if row["fingerprint"] != fp:
            raise key_reused()
        if row["status_code"] is None:  # cannot happen after the first commits; be explicit anyway
            raise ProblemError(409, "conflict", "同じ Idempotency-Key の要求を処理中です")
        body = row["body"]
        if isinstance(body, dict) and set(body) == {SEALED} and seal is not None:
            body = json.loads(seal.open(str(body[SEALED]), _aad(tenant_id, key)))
        return Answer(int(row["status_code"]), body, dict(row["headers"] or {}))

    def _store(self, session: Session, tenant_id: str, caller: str, key: str, answer: Answer,
               seal: DataKeys | None) -> None:
        t = self.table
        body: Any = jsonable_encoder(answer.body)
        if seal is not None:
            body = {SEALED: seal.seal(json.dumps(body, ensure_ascii=False).encode(), _aad(tenant_id, key))}
        session.execute(update(t).where(t.c.tenant_id == tenant_id, t.c.caller == caller[:64], t.c.key == key)
                        .values(status_code=answer.status_code, body=body,
                                headers={k: v for k, v in answer.headers.items() if k in KEPT_HEADERS}))

    def run(self, transaction: Callable[[], AbstractContextManager[Session]], request: Request, tenant_id: str,
            caller: str, key: str | None, body: Any, work: Callable[[Session], Answer],
            secret: bytes | None = None, seal: DataKeys | None = None) -> JSONResponse:
        """Run `work` in one transaction (`transaction()`, e.g. `rt.transaction`) under the key; without
        a key simply run it. The answer is stored with the key in that same transaction. `secret`:
        see `fingerprint`; `seal`: store the answer sealed (AES-256-GCM), for answers holding a
        secret shown once (a webhook signing secret)."""
        if key is None:
            with transaction() as session:
                answer = work(session)
            return answer.response()
        fp = fingerprint(request.method, request.url.path, body, secret)
        for attempt in range(2):
            try:
                with transaction() as session:
                    now = datetime.now(UTC)
                    stored = self._claim(session, tenant_id, caller, key, fp, now, seal)
                    if stored is not None:
                        return stored.response(replayed=True)
                    answer = work(session)
                    self._store(session, tenant_id, caller, key, answer, seal)
                return answer.response()
            except IntegrityError:
                # A concurrent request with this key committed first: answer its result.
                if attempt:
                    raise
        raise AssertionError("unreachable")


def create_idempotency_table() -> None:
    """For a service's migration that adopts idempotency keys."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "caller", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def drop_idempotency_table() -> None:
    from alembic import op

    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
