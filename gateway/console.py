"""The staff console (the built web/ app) at "/", on the API's own origin: no CORS.

GET or HEAD of any path outside /api/ and the gateway's own endpoints lands here:
- /assets/<file>: Vite's content-hashed files, cached for a year as immutable (a new build has new
  names); a missing one is a 404, never the page;
- another file at the top of the build (favicon …): served, revalidated each time;
- anything else is a client route of the single-page app: index.html, never cached (`no-store`),
  so a new build is picked up on the next load.

Console answers carry the page's CSP instead of the API's `default-src 'none'`: scripts, styles,
fetches only from this origin (`'self'`), no inline script or style, no eval; images also as data:
(the TOTP QR code). Files are read from a resolved directory by a name that may not leave it."""

from __future__ import annotations

import asyncio
import mimetypes
import re
from pathlib import Path

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gateway.routing import RouteLabel, check_path
from shared.errors import problem_response

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "web" / "dist"
PAGE_CSP = (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            b"connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; "
            b"base-uri 'none'; object-src 'none'")
IMMUTABLE = "public, max-age=31536000, immutable"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".ico": "image/x-icon",
          ".png": "image/png", ".woff2": "font/woff2", ".json": "application/json"}
ROUTE = RouteLabel("/{console}")
API_ROOT = "/api/"


class Console:
    def __init__(self, directory: Path | None = None, reserved: frozenset[str] = frozenset()) -> None:
        self.dir = (directory or DEFAULT_DIR).resolve()
        self.reserved = reserved  # the gateway's own paths (/healthz …)

    def serves(self, scope: Scope) -> bool:
        path: str = scope["path"]
        # Anything under /api/ (any version) stays the API's: an unknown route there is a 404, not the page.
        return scope["method"] in ("GET", "HEAD") and not path.startswith(API_ROOT) and path != "/api" \
            and path not in self.reserved

    def _file(self, parts: list[str]) -> Path | None:
        if not parts or not all(_NAME.match(p) for p in parts):
            return None
        candidate = self.dir.joinpath(*parts)
        return candidate if candidate.is_file() and candidate.resolve().is_relative_to(self.dir) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = ROUTE
        # The same refusal as for the API: encoded slashes and dot segments are 400, not a file name.
        check_path(scope.get("raw_path") or scope["path"].encode())
        path: str = scope["path"]
        parts = [p for p in path.split("/") if p]
        response: Response
        if parts[:1] == ["assets"]:
            found = self._file(parts)
            if found is None:
                response = problem_response(404, detail="ファイルが見つかりません", instance=path)
            else:
                response = await _file_response(found, IMMUTABLE)
        elif (found := self._file(parts) if len(parts) == 1 and parts[0] != "index.html" else None) is not None:
            response = await _file_response(found, "no-cache")
        else:
            index = self.dir / "index.html"
            if not index.is_file():
                response = problem_response(404, detail="コンソールがビルドされていません（make run がビルドします）",
                                            instance=path)
            else:
                response = await _file_response(index, "no-store")
        await response(scope, receive, send)


async def _file_response(path: Path, cache_control: str) -> Response:
    body = await asyncio.to_thread(path.read_bytes)
    media = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(body, media_type=media, headers={"Cache-Control": cache_control})


def with_page_policy(send: Send) -> Send:
    """`send` with the console's CSP in place of the API's (applied after the security headers)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != b"content-security-policy"]
            message["headers"] = [*headers, (b"content-security-policy", PAGE_CSP)]
        await send(message)

    return sending
