"""Login and refresh bodies are a few hundred bytes: auth refuses more than a few KiB with 413
before parsing (issue 18.4: a login padded to 600 kB slipped past the gateway's checks, which
read the tenant only from bodies it buffered). The gateway has its own, earlier limit; this one
holds whatever reaches auth."""

from __future__ import annotations

import json
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PROBLEM_JSON, problem_body
from shared.topology import api_prefix

LIMIT_BYTES = 4096
_P = api_prefix("auth")
SMALL_BODY_PATHS = frozenset({
    f"{_P}/login", f"{_P}/login/totp", f"{_P}/login/password", f"{_P}/login/totp-enrolment",
    f"{_P}/login/totp-enrolment/confirm", f"{_P}/token/refresh", f"{_P}/oauth/token",
})


class SmallBodies:
    """Reads (at most LIMIT_BYTES + 1 of) the body of the listed routes first: over the limit, by
    its Content-Length or by what arrives, is 413; otherwise the body is handed on as received."""

    def __init__(self, app: ASGIApp, paths: Collection[str] = SMALL_BODY_PATHS, limit: int = LIMIT_BYTES) -> None:
        self.app, self.paths, self.limit = app, frozenset(paths), limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") not in self.paths:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send, self.limit)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await _too_large(send, self.limit)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    payload = json.dumps(problem_body(413, "payload-too-large", "リクエストが大きすぎます",
                                      f"この操作のリクエストは {limit} バイトまでです"), ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})
