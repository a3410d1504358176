"""Cookie mode for the staff console: the refresh token in an HttpOnly cookie, never in script's reach.

A client asks for it with `X-Token-Mode: cookie` on the login steps, the refresh and the
logout; others (partner systems, scripts) keep the JSON form. In cookie mode the JSON answer carries
no refresh token; the cookie is `HttpOnly; Secure; SameSite=Strict` and scoped to the refresh path,
so no other request carries it.

CSRF: the refresh route takes the cookie only together with that custom header. A cross-site form
cannot send a custom header, and a cross-site fetch that does needs a CORS preflight, which the
gateway refuses for any origin but the configured one; SameSite=Strict already keeps the browser
from sending the cookie on a cross-site request at all."""

from __future__ import annotations

from fastapi import Request, Response

from shared.errors import ProblemError
from shared.topology import api_prefix

# Not X-Roumu-…: the gateway strips that prefix (its own internal headers) from every request.
MODE_HEADER = "x-token-mode"
# __Secure-: browsers accept the cookie only when it is Secure and set over a secure origin.
COOKIE = "__Secure-roumu-refresh"
PATH = api_prefix("auth") + "/token/refresh"
_ATTRS = f"Path={PATH}; Secure; HttpOnly; SameSite=Strict"


def cookie_mode(request: Request) -> bool:
    return request.headers.get(MODE_HEADER, "").strip().lower() == "cookie"


def deliver(request: Request, response: Response, refresh_token: str | None) -> str | None:
    """The refresh token for the JSON answer: itself, or None once it went into the cookie.
    No Max-Age: auth's idle and absolute timeouts end the session; closing the browser drops it."""
    if refresh_token is None or not cookie_mode(request):
        return refresh_token
    response.headers.append("set-cookie", f"{COOKIE}={refresh_token}; {_ATTRS}")
    return None


def presented(request: Request, body_token: str | None) -> str | None:
    """The refresh token a refresh presents: the body's, or the cookie's — the cookie only with the
    custom header (a cookie alone is what a forged cross-site request would carry)."""
    if body_token:
        return body_token
    if not cookie_mode(request):
        return None
    return request.cookies.get(COOKIE) or None


def clear(request: Request, response: Response) -> None:
    if cookie_mode(request):
        response.headers.append("set-cookie", f"{COOKIE}=; Max-Age=0; {_ATTRS}")


def ended(request: Request, problem: ProblemError) -> ProblemError:
    """`problem` answering a refresh that failed; in cookie mode it also clears the spent cookie."""
    if not cookie_mode(request):
        return problem
    return ProblemError(problem.status, problem.slug, problem.title, problem.detail,
                        headers={**problem.headers, "Set-Cookie": f"{COOKIE}=; Max-Age=0; {_ATTRS}"},
                        errors=problem.errors, extra=problem.extra)
