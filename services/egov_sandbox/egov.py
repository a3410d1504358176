"""e-Gov's own response and error shapes (EGOV-API.md §2, §5), not Roumu's problem+json.

Errors are RFC 7807 style with e-Gov's English titles ("Bad Request"); a 404 has no body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from shared.errors import problem_response

API_PREFIX = "/shinsei/v2"
# e-Gov's authorisation server is another host (https://account.e-gov.go.jp/auth); the sandbox
# serves it under this prefix: {auth}/auth, {auth}/token, {auth}/token/introspect, {auth}/logout.
AUTH_PREFIX = "/auth"
DOC_TYPE = "https://developer.e-gov.go.jp/contents/specification"
# e-Gov reports times in Japan time; Japan has no daylight saving, so a fixed offset is exact.
JST = timezone(timedelta(hours=9), "JST")
REALM = 'Bearer realm="e-Gov"'

_TITLES = {400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed", 413: "Payload Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}


class EgovError(Exception):
    """An error the sandbox answers the way e-Gov would."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None,
                 report_list: list[dict[str, str]] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        # Format-check failures carry report_list; bulk errors error_count / error (EGOV-API.md §5).
        self.extra = dict(extra or {})
        if report_list is not None:
            self.extra["report_list"] = report_list


def egov_datetime(dt: datetime) -> str:
    if dt.tzinfo is None:  # SQLite hands back timestamps without their zone; they were written in UTC
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def egov_error_response(status: int, detail: str, instance: str, headers: dict[str, str] | None = None,
                        extra: dict[str, Any] | None = None) -> Response:
    if status == 404:
        return Response(status_code=404, headers=headers)  # the spec's 404 carries no body
    body: dict[str, Any] = {"title": _TITLES.get(status, "Error"), "type": DOC_TYPE, "instance": instance,
                            **({"detail": detail} if detail else {}), **(extra or {})}
    # RFC 7807 fields, but e-Gov's spec answers them as application/json (not problem+json)
    return JSONResponse(body, status_code=status, headers=headers)


def oauth_error_response(status: int, error: str, description: str,
                         headers: dict[str, str] | None = None) -> Response:
    """The token endpoints' OAuth-style errors: {error, error_description} (EGOV-API.md §5)."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


def install_egov_error_handlers(app: FastAPI) -> None:
    """e-Gov shapes under /shinsei/v2; Roumu's problem+json elsewhere (health, metrics)."""

    async def on_egov(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EgovError)
        return egov_error_response(exc.status, exc.detail, request.url.path, exc.headers, exc.extra)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if request.url.path.startswith(AUTH_PREFIX + "/"):
            return oauth_error_response(400, "invalid_request", "リクエストの項目に誤りがあります")
        # e-Gov answers bad input with 400, naming the item; input values are never echoed.
        items = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in exc.errors())
        return egov_error_response(400, f"リクエストの項目に誤りがあります: {items}", request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(API_PREFIX):
            return egov_error_response(exc.status_code, str(exc.detail), request.url.path, dict(exc.headers or {}))
        if request.url.path.startswith(AUTH_PREFIX + "/"):
            return oauth_error_response(exc.status_code, "invalid_request", str(exc.detail), dict(exc.headers or {}))
        return problem_response(exc.status_code, instance=request.url.path, headers=dict(exc.headers or {}))

    app.add_exception_handler(EgovError, on_egov)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
