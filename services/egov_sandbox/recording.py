"""ASGI middleware of the sandbox: records every request to e-Gov's paths (method, path, query,
headers, body, answer) and injects the faults a test asked for — 401 (token refused), 500, 503 (maintenance), a slow
answer, or a dropped one (the request is processed and committed, then the connection is closed
without an answer: what a client sees as a timeout after the server accepted)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.egov_sandbox.control import Control
from services.egov_sandbox.egov import API_PREFIX, AUTH_PREFIX, DOC_TYPE
from services.egov_sandbox.models import SandboxRequest
from shared.db import Database

RECORDED = (API_PREFIX + "/", AUTH_PREFIX + "/")
_MASKED = {"authorization"}


class DroppedResponse(Exception):
    """Raised after the response started: the server closes the connection mid-answer."""


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        if name in _MASKED:
            scheme = value.partition(" ")[0]
            value = f"{scheme} ***" if value else ""
        out[name] = value
    return out


class SandboxMiddleware:
    def __init__(self, app: ASGIApp, control: Control, db: Any) -> None:
        self.app = app
        self.control = control
        self.db_ref = db  # a callable returning the runtime's Database (it exists once the app started)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(RECORDED):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        method = scope["method"]
        fault = self.control.take_fault(method, path)
        status = {"code": 0}

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def record(code: int, fault_kind: str | None) -> None:
            row = SandboxRequest(method=method, path=path, query=scope.get("query_string", b"").decode("latin-1"),
                                 headers=_headers(scope), body=body.decode("utf-8", "replace"), status=code,
                                 fault=fault_kind, received_at=datetime.now(UTC))
            db: Database = self.db_ref()

            def write() -> None:
                with db.transaction() as session:
                    session.add(row)

            await asyncio.to_thread(write)

        if fault is not None and fault.kind in ("401", "500", "503") and fault.when == "before":
            await record(int(fault.kind), fault.kind)
            await _error(send, int(fault.kind), path)
            return
        if fault is not None and fault.kind == "slow" and fault.when == "before":
            await asyncio.sleep(fault.delay_seconds)

        swallow = fault is not None and (fault.kind == "drop" or (fault.kind in ("500", "503", "slow")
                                                                   and fault.when == "after"))
        held: list[Message] = []

        async def send_wrapper(message: Message) -> None:
            # Held until the request is recorded: a client that got its answer finds the request in
            # /_sandbox/requests (recording after the answer let tests read the recording too early).
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            held.append(message)

        await self.app(scope, replay, send_wrapper)
        await record(status["code"], fault.kind if fault else None)
        if fault is None or not swallow:
            for m in held:
                await send(m)
            return
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_seconds)
            for m in held:
                await send(m)
            return
        if fault.kind in ("500", "503"):
            await _error(send, int(fault.kind), path)
            return
        # drop: the work is done and committed; start an answer and cut the connection.
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise DroppedResponse("sandbox fault: response dropped after the request was processed")


async def _error(send: Send, code: int, path: str) -> None:
    title, detail = {401: ("Unauthorized", "アクセストークンが無効です"),
                     500: ("Internal Server Error", "サーバ内部でエラーが発生しました")}.get(
        code, ("Service Unavailable", "サービス利用不可 (メンテナンス中)"))
    body = json.dumps({"title": title, "detail": detail, "type": DOC_TYPE, "instance": path},
                      ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"application/json"),  # e-Gov's spec: not problem+json
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
