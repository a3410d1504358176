"""problem+json (RFC 9457) errors with request ids, for every service and the gateway.

A person reads `title`, so it is Japanese; `type` is a stable URI a program can switch on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problem_types import problem_type_base
from shared.request_context import current_request_id

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger("roumu.errors")

# Titles for plain HTTP statuses raised without a domain error.
_STATUS_TITLES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "リクエストが正しくありません"),
    401: ("unauthenticated", "認証が必要です"),
    403: ("forbidden", "この操作を行う権限がありません"),
    404: ("not-found", "指定されたリソースが見つかりません"),
    405: ("method-not-allowed", "このメソッドは使用できません"),
    406: ("not-acceptable", "指定された形式では応答できません"),
    409: ("conflict", "他の操作と競合しました"),
    412: ("precondition-failed", "データが他の利用者によって更新されています"),
    413: ("payload-too-large", "リクエストが大きすぎます"),
    415: ("unsupported-media-type", "対応していないデータ形式です"),
    422: ("validation", "入力内容に誤りがあります"),
    428: ("precondition-required", "If-Match ヘッダーが必要です"),
    429: ("rate-limited", "リクエストが多すぎます。しばらくしてから再度お試しください"),
    500: ("internal", "内部エラーが発生しました"),
    502: ("bad-gateway", "サービスに接続できません"),
    503: ("unavailable", "サービスが一時的に利用できません"),
    504: ("gateway-timeout", "サービスの応答がタイムアウトしました"),
}


class ProblemError(Exception):
    """Raise from a use case or a route to answer with problem+json."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": problem_type_base() + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    rid = current_request_id()
    if rid:
        body["request_id"] = rid
    if extra:
        body.update(extra)
    return body


def problem_response(
    status: int,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    default_slug, default_title = _STATUS_TITLES.get(status, ("error", "エラーが発生しました"))
    body = problem_body(
        status, slug or default_slug, title or default_title, detail,
        instance=instance, errors=errors, extra=extra,
    )
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echoing `input` back could echo a secret (a password, a My Number): never do.
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"field": ".".join(loc), "message": str(err.get("msg", "")), "code": err.get("type")})
    return out


def install_error_handlers(app: FastAPI, unexpected_middleware: bool = True) -> None:
    """Every error leaves the app as problem+json; unexpected ones as a 500 without internals.
    `unexpected_middleware=False`: the caller answers escaped exceptions itself (the services'
    shared.frame_middleware.FrameMiddleware does, inside its request id and metrics)."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(
            exc.status, exc.slug, exc.title, exc.detail,
            instance=request.url.path, errors=exc.errors, headers=exc.headers, extra=exc.extra,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422, instance=request.url.path, errors=_validation_errors(exc),
            detail="リクエストの項目を確認してください",
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in _default_details() else None
        return problem_response(
            exc.status_code, instance=request.url.path, detail=detail, headers=dict(exc.headers or {})
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Reached only for what UnexpectedErrors (inside the request-id middleware) did not answer.
        return unexpected_response(request.url.path, exc)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
    # Added first, so it sits innermost of the user middleware: inside RequestIdMiddleware, whose
    # request id the answer and the log line then carry (the catch-all above runs outside it).
    if unexpected_middleware:
        app.add_middleware(UnexpectedErrors)


def unexpected_response(path: str, exc: BaseException) -> JSONResponse:
    """The answer, and the log line, for an exception no route turned into a problem."""
    if _nul_in_text(exc):
        # PostgreSQL text cannot hold U+0000 (psycopg refuses to send it): bad input, not a crash.
        return problem_response(422, instance=path, detail="文字列に NUL 文字 (U+0000) は使用できません")
    if _lost_update(exc):
        # Another request changed the row between this one's read and its write (the version
        # check refused the write): rolled back, nothing written; a conflict, not a crash.
        log.warning("concurrent update refused", extra={"path": path})
        return problem_response(409, instance=path,
                                detail="他の処理と同時に更新されました。内容を確認して再度お試しください")
    constraint = _concurrent_conflict(exc)
    if constraint is not None:
        # A unique (or foreign-key) violation: a parallel request wrote the same key first (or
        # removed what this one referred to). Rolled back, nothing written: a conflict, not a crash.
        log.warning("concurrent write refused by a constraint", extra={"path": path, "constraint": constraint})
        return problem_response(409, instance=path,
                                detail="他の処理と同時に登録・更新されました。内容を確認して再度お試しください")
    if _pool_exhausted(exc):
        # Every pooled connection is in use and none came free within pool_timeout: the service
        # is saturated (docs/operations.md, connection budget), not broken.
        log.warning("database connection pool exhausted", extra={"path": path, "pool": str(exc).split("(")[0][:200]})
        return problem_response(503, "busy", "サービスが混み合っています。しばらくしてから再度お試しください",
                                "データベース接続がすべて使用中です", instance=path, headers={"Retry-After": "1"})
    if _database_unavailable(exc):
        # The database restarting or unreachable (or SQLite busy past its timeout): the
        # transaction was rolled back, nothing was written; the caller may try again.
        log.warning("database unavailable", extra={"path": path, "error": type(exc).__name__})
        return problem_response(503, instance=path, headers={"Retry-After": "2"},
                                detail="データベースに接続できません。しばらくしてから再度お試しください")
    log.error("unhandled error", extra={"path": path}, exc_info=(type(exc), exc, exc.__traceback__))
    return problem_response(500, instance=path)


class UnexpectedErrors:
    """Answers an exception that escaped the routes and their handlers, while the request's
    context (its request id) is still set: the 500 then carries the id in its header (added by
    RequestIdMiddleware on the way out), its body and its log line. Once the answer has started
    nothing can be sent instead, and the exception goes on to the server."""

    def __init__(self, app: ASGIApp, answer: Callable[[str, Exception], Response] | None = None) -> None:
        self.app = app
        self.answer = answer or unexpected_response  # the gateway passes its own (no DB errors there)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await self.answer(scope.get("path", ""), exc)(scope, receive, send)


def _nul_in_text(exc: BaseException) -> bool:
    """psycopg's "PostgreSQL text fields cannot contain NUL (0x00) bytes", however SQLAlchemy wrapped it."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if "cannot contain NUL (0x00)" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _lost_update(exc: BaseException) -> bool:
    from sqlalchemy.orm.exc import StaleDataError

    return isinstance(exc, StaleDataError)


def _concurrent_conflict(exc: BaseException) -> str | None:
    """The constraint (or SQLite's message) of a unique or foreign-key violation, else None.
    NOT NULL and CHECK violations are bugs, not races: they stay 500s."""
    from sqlalchemy.exc import IntegrityError

    if not isinstance(exc, IntegrityError):
        return None
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:  # psycopg: 23505 unique_violation, 23503 foreign_key_violation
        if sqlstate not in ("23505", "23503"):
            return None
        diag = getattr(orig, "diag", None)
        return str(getattr(diag, "constraint_name", None) or sqlstate)
    first = str(orig).splitlines()[0] if str(orig) else ""
    if first.startswith(("UNIQUE constraint failed", "FOREIGN KEY constraint failed")):
        return first[:200]
    return None


def _pool_exhausted(exc: BaseException) -> bool:
    """SQLAlchemy's pool TimeoutError: no connection came free within pool_timeout."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, PoolTimeout):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _database_unavailable(exc: BaseException) -> bool:
    """SQLAlchemy's OperationalError / InterfaceError (connection refused or lost, server shutting
    down, SQLite locked), or any DBAPI error that invalidated its connection."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, OperationalError | InterfaceError) or (
                isinstance(seen, DBAPIError) and seen.connection_invalidated):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _default_details() -> set[str]:
    from http import HTTPStatus

    return {s.phrase for s in HTTPStatus}


def not_found() -> ProblemError:
    """404 for anything outside the caller's scope: another tenant's ids look like missing ones."""
    return ProblemError(404, "not-found", "指定されたリソースが見つかりません")


def forbidden(detail: str | None = None) -> ProblemError:
    return ProblemError(403, "forbidden", "この操作を行う権限がありません", detail)


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problem+json errors a route may answer."""
    return {
        code: {"description": _STATUS_TITLES.get(code, ("", "エラー"))[1],
               "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for code in codes
    }
