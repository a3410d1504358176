"""How the gateway is served: uvicorn with uvloop and httptools, with two changes that matter here.

* uvicorn's X-Forwarded-For handling is off: it trusts 127.0.0.1 by default and would rewrite the
  peer address before the gateway's own trusted-proxy rules see it.
* A request uvicorn cannot parse as HTTP (raw non-ASCII in the path, a broken request line) is
  refused by the server before any app runs, in text/plain; here it gets problem+json and a request
  id like every other refusal."""

from __future__ import annotations

import json

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from shared.errors import PROBLEM_JSON, problem_body
from shared.request_context import new_request_id


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        rid = new_request_id()
        body = json.dumps(
            problem_body(400, "bad-request", "リクエストが正しくありません", "HTTP リクエストとして解釈できません",
                         extra={"request_id": rid}),
            ensure_ascii=False,
        ).encode()
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: ", PROBLEM_JSON.encode(), b"\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\n",
            b"x-request-id: ", rid.encode(), b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def uvicorn_config(app: ASGIApp, host: str, port: int, **overrides: object) -> uvicorn.Config:
    options: dict[str, object] = {
        "loop": "uvloop", "http": ProblemHttpToolsProtocol, "proxy_headers": False,
        "log_config": None, "access_log": False, "lifespan": "on",
    }
    options.update(overrides)
    return uvicorn.Config(app, host=host, port=port, **options)  # type: ignore[arg-type]
