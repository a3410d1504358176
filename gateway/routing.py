"""Which service a path goes to, and the path checks done before anything leaves the gateway.

Checks run on the bytes the client sent (`raw_path`): the services decode the path themselves, so
anything that decodes differently from how it reads (encoded slashes, dot segments, broken
percent-escapes, non-UTF-8) is refused here rather than interpreted twice."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from shared.errors import ProblemError
from shared.topology import ROUTED, ServiceInfo

API_PREFIX = "/api/v1/"

# Bytes a path may carry as sent: RFC 3986 pchar and "/". Spaces, controls, backslash and
# non-ASCII must arrive percent-encoded (every browser and HTTP client does so).
_ALLOWED = re.compile(rb"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RouteLabel:
    """What the metrics middleware reads as `scope["route"].path`: a template, never the raw path."""

    path: str


@dataclass(frozen=True)
class Target:
    service: ServiceInfo
    label: RouteLabel


_TARGETS: dict[str, Target] = {
    route: Target(info, RouteLabel(f"{API_PREFIX}{route}/{{path}}")) for route, info in ROUTED.items()
}


def bad_request(detail: str) -> ProblemError:
    return ProblemError(400, "bad-request", "リクエストが正しくありません", detail)


def check_path(raw_path: bytes) -> None:
    """Refuse a path the services could read differently from the gateway."""
    if not _ALLOWED.match(raw_path):
        raise bad_request("パスに使用できない文字が含まれています")
    if _BAD_ESCAPE.search(raw_path):
        raise bad_request("パスのパーセントエンコードが正しくありません")
    for segment in raw_path.split(b"/"):
        decoded = unquote_to_bytes(segment)
        if b"/" in decoded or b"\\" in decoded or _CONTROL.search(decoded):
            raise bad_request("パスに使用できない文字が含まれています")
        if decoded in (b".", b".."):
            raise bad_request("パスに . や .. は使用できません")
        try:
            decoded.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request("パスが UTF-8 ではありません") from None


def match(path: str) -> Target | None:
    """The service for /api/v1/<route>[/…]; `path` is the decoded path the services route on."""
    if not path.startswith(API_PREFIX):
        return None
    route, _, _ = path[len(API_PREFIX):].partition("/")
    return _TARGETS.get(route)
