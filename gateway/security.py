"""Headers every response carries, and CORS for the one configured SPA origin."""

from __future__ import annotations

from gateway.headers import Header

# An API answers JSON only: nothing to frame, sniff, embed or cache by default.
SECURITY_HEADERS: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
# Always the gateway's: a service's copy of these is replaced (CORS is decided here, HSTS per connection).
_OURS = frozenset({
    b"strict-transport-security", b"access-control-allow-origin", b"access-control-allow-credentials",
    b"access-control-expose-headers",
})
CORS_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_ALLOWED_HEADERS = b"authorization, content-type, if-match, if-none-match, x-request-id"
CORS_EXPOSED = b"etag, location, retry-after, ratelimit, ratelimit-policy, x-request-id, content-disposition"
CORS_MAX_AGE = b"600"


class ResponseHeaders:
    def __init__(self, cors_origin: str, hsts_seconds: int) -> None:
        self.cors_origin = cors_origin.rstrip("/").encode("latin-1") if cors_origin else b""
        self.hsts = f"max-age={hsts_seconds}; includeSubDomains".encode() if hsts_seconds > 0 else b""

    def origin_allowed(self, origin: bytes | None) -> bool:
        return bool(self.cors_origin) and origin == self.cors_origin

    def apply(self, headers: list[Header], origin: bytes | None, https: bool) -> list[Header]:
        """The response's headers with ours added. A security header the service set itself stays as it
        is (a file download's CSP carries `sandbox`, stricter than the API default); only CORS and
        HSTS are always the gateway's."""
        out = [(n, v) for n, v in headers if n.lower() not in _OURS]
        present = {n.lower() for n, _ in out}
        out += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
        if b"cache-control" not in present:
            out.append((b"cache-control", b"no-store"))
        if https and self.hsts:
            out.append((b"strict-transport-security", self.hsts))
        if self.cors_origin:
            out.append((b"vary", b"Origin"))
            if origin == self.cors_origin:
                out += [
                    (b"access-control-allow-origin", self.cors_origin),
                    (b"access-control-allow-credentials", b"true"),
                    (b"access-control-expose-headers", CORS_EXPOSED),
                ]
        return out

    def preflight(self) -> list[Header]:
        return [
            (b"access-control-allow-methods", CORS_METHODS),
            (b"access-control-allow-headers", CORS_ALLOWED_HEADERS),
            (b"access-control-max-age", CORS_MAX_AGE),
            (b"content-length", b"0"),
        ]
