"""Calls to the 電子申請API v2 (EGOV-API.md §2, §5) with retry and backoff.

* Reads (GET) and calls that change nothing twice (/apply/check, /official_document completion,
  verify) are retried on timeouts, transport errors, 5xx and 503 — with a longer backoff for 503,
  e-Gov's "maintenance" answer — honouring Retry-After when given.
* Submissions (/apply, /bulk-apply, /apply/amend, /apply/withdraw) are never retried here: a
  timeout, a dropped answer, a 5xx or a 503 leaves their outcome unknown (`OutcomeUnknown`), and
  the caller must look the case up before sending again (services/efiling/submission.py).
* A 401 `invalid_token` refreshes the account's token once and repeats the call (the token source
  refreshes only if no one else has since the rejected token was handed out); a 401 after that
  is `Unauthorized`, a 503 problem+json for the caller, never a 500."""

from __future__ import annotations

import base64
import io
import random
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from shared.errors import ProblemError

TRIAL_HEADER = "X-eGovAPI-Trial"
# Who is calling, on every request to e-Gov (API and authorisation server).
USER_AGENT = "Roumu-efiling/1"


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def refreshed_token(self, rejected: str) -> str: ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    maintenance_base_seconds: float = 5.0
    maintenance_cap_seconds: float = 300.0

    def delay(self, attempt: int, maintenance: bool, retry_after: str | None = None) -> float:
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.maintenance_cap_seconds)
        base, cap = ((self.maintenance_base_seconds, self.maintenance_cap_seconds) if maintenance
                     else (self.base_seconds, self.cap_seconds))
        # exponential with jitter in [50 %, 100 %]: retries of many filings do not arrive in step
        return float(min(cap, base * 2**attempt) * (0.5 + random.random() / 2))  # noqa: S311 - not security


class EgovError(Exception):
    """e-Gov answered 4xx (or 5xx after the retries): `body` is its problem document."""

    def __init__(self, status: int, body: dict[str, Any] | None = None) -> None:
        self.status = status
        self.body = body or {}
        super().__init__(f"e-Gov {status}: {self.body.get('detail', '')}")

    @property
    def report_list(self) -> list[dict[str, Any]]:
        return list(self.body.get("report_list") or [])


class NotFound(EgovError):
    pass


class Unauthorized(ProblemError):
    """e-Gov refused the account's access token even after a refresh: nothing was done there. For
    a person: try later, and re-link the account if it lasts (answered as 503 problem+json)."""

    def __init__(self) -> None:
        super().__init__(503, "egov-unauthorized", "e-Gov が認証を受け付けませんでした",
                         "アクセストークンを更新しても e-Gov に認証されませんでした。何も送信していません。"
                         "しばらくしてから再度お試しください。続く場合は e-Gov アカウントを連携し直してください",
                         headers={"Retry-After": "30"})


class OutcomeUnknown(Exception):
    """A submission whose answer never came or was a server error: it may have arrived."""

    def __init__(self, reason: str, maintenance: bool = False, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maintenance = maintenance
        self.retry_after = retry_after


class Unavailable(Exception):
    """Reads kept failing (maintenance or outage) past the retry budget."""

    def __init__(self, reason: str, maintenance: bool) -> None:
        super().__init__(reason)
        self.maintenance = maintenance


def _json(r: httpx.Response) -> dict[str, Any]:
    if not r.content:
        return {}
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class EgovClient:
    def __init__(self, api_url: str, tokens: TokenSource, http: httpx.Client, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, trial: bool = False) -> None:
        self.api_url = api_url.rstrip("/")
        self.tokens, self.http = tokens, http
        self.policy = policy or RetryPolicy()
        self.sleep, self.trial = sleep, trial
        self.retries = 0  # retried attempts, for metrics and tests

    def _headers(self, token: str) -> dict[str, str]:
        h = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        if self.trial:
            h[TRIAL_HEADER] = "true"
        return h

    def request(self, method: str, path: str, *, submission: bool = False, json: dict[str, Any] | None = None,
                params: dict[str, Any] | None = None) -> dict[str, Any]:
        token = self.tokens.access_token()
        refreshed = False
        attempt = 0
        while True:
            try:
                r = self.http.request(method, f"{self.api_url}{path}", json=json, params=params,
                                      headers=self._headers(token))
            except httpx.TransportError as exc:  # timeouts, refused or dropped connections
                if submission:
                    raise OutcomeUnknown(f"{type(exc).__name__}") from exc
                if attempt + 1 >= self.policy.attempts:
                    raise Unavailable(type(exc).__name__, maintenance=False) from exc
                self._wait(attempt, False, None)
                attempt += 1
                continue
            if r.status_code == 401:
                if refreshed:
                    raise Unauthorized
                token, refreshed = self.tokens.refreshed_token(token), True
                continue
            if r.status_code >= 500:
                maintenance = r.status_code == 503
                retry_after = r.headers.get("retry-after")
                if submission:
                    raise OutcomeUnknown(f"HTTP {r.status_code}", maintenance, retry_after)
                if attempt + 1 >= self.policy.attempts:
                    raise Unavailable(f"HTTP {r.status_code}", maintenance)
                self._wait(attempt, maintenance, retry_after)
                attempt += 1
                continue
            if r.status_code == 404:
                raise NotFound(404)
            if r.status_code >= 400:
                raise EgovError(r.status_code, _json(r))
            return _json(r)

    def _wait(self, attempt: int, maintenance: bool, retry_after: str | None) -> None:
        self.retries += 1
        self.sleep(self.policy.delay(attempt, maintenance, retry_after))

    # ---- submissions: never retried here
    def apply(self, proc_id: str, file_name: str, file_data: str) -> dict[str, Any]:
        body = self.request("POST", "/apply", submission=True,
                            json={"proc_id": proc_id, "send_file": {"file_name": file_name, "file_data": file_data}})
        return dict(body.get("results") or {})

    def bulk_apply(self, file_name: str, file_data: str) -> dict[str, Any]:
        body = self.request("POST", "/bulk-apply", submission=True,
                            json={"send_file": {"file_name": file_name, "file_data": file_data}})
        return dict(body.get("results") or {})

    def amend(self, arrive_id: str, file_name: str, file_data: str) -> dict[str, Any]:
        body = self.request("POST", "/apply/amend", submission=True, json={
            "arrive_id": arrive_id, "send_file": {"file_name": file_name, "file_data": file_data}})
        return dict(body.get("results") or {})

    def withdraw(self, arrive_id: str, file_name: str, file_data: str) -> dict[str, Any]:
        body = self.request("POST", "/apply/withdraw", submission=True, json={
            "arrive_id": arrive_id, "send_file": {"file_name": file_name, "file_data": file_data}})
        return dict(body.get("results") or {})

    # ---- safe to repeat
    def check(self, proc_id: str, file_name: str, file_data: str) -> dict[str, Any]:
        body = self.request("POST", "/apply/check",
                            json={"proc_id": proc_id, "send_file": {"file_name": file_name, "file_data": file_data}})
        return dict(body.get("results") or {})

    def procedure(self, proc_id: str) -> tuple[dict[str, bytes], dict[str, Any]]:
        """手続選択: the procedure's skeleton (files by name inside its root folder) and the results
        (`configuration_file_name`, `file_info`)."""
        results = dict(self.request("GET", f"/procedure/{proc_id}").get("results") or {})
        raw = base64.b64decode(str(results.pop("file_data", "")))
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            files = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()
                     if n.startswith(f"{proc_id}/") and not n.endswith("/")}
        return files, results

    def case(self, arrive_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/apply/{arrive_id}").get("results") or {})

    def _pages(self, path: str, key: str, params: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self.request("GET", path, params={**params, "limit": limit, "offset": page})
            items = list((body.get("results") or {}).get(key) or [])
            yield from items
            rs = body.get("resultset") or {}
            if not items or page * limit >= int(rs.get("all_count", 0)):
                return
            page += 1

    def lists_by_send_number(self, send_number: str) -> Iterator[dict[str, Any]]:
        return self._pages("/apply/lists", "apply_list", {"send_number": send_number}, 50)

    def lists_by_dates(self, date_from: str, date_to: str) -> Iterator[dict[str, Any]]:
        return self._pages("/apply/lists", "apply_list", {"date_from": date_from, "date_to": date_to}, 50)

    def report(self, send_number: str) -> list[dict[str, Any]]:
        body = self.request("GET", "/apply/report", params={"send_number": send_number})
        return list((body.get("results") or {}).get("error_report_info") or [])

    def notice(self, arrive_id: str, notice_sub_id: int) -> dict[str, Any]:
        body = self.request("GET", f"/notice/{arrive_id}/{notice_sub_id}")
        return dict((body.get("results") or {}).get("notice") or {})

    def official_document(self, arrive_id: str, notice_sub_id: int) -> tuple[bytes, list[str]]:
        body = self.request("GET", f"/official_document/{arrive_id}/{notice_sub_id}")
        results = body.get("results") or {}
        names = [str(x.get("file_name")) for x in results.get("file_name_list") or []]
        return base64.b64decode(str(results.get("file_data", ""))), names

    def complete_document(self, arrive_id: str, notice_sub_id: int) -> dict[str, Any]:
        body = self.request("POST", "/official_document", json={"arrive_id": arrive_id, "notice_sub_id": notice_sub_id})
        return dict(body.get("results") or {})

    def verify_document(self, file_name: str, zip_bytes: bytes, sig_file: str) -> dict[str, Any]:
        body = self.request("POST", "/official_document/verify", json={
            "file_name": file_name, "file_data": base64.b64encode(zip_bytes).decode(),
            "sig_verification_xml_file_name": sig_file})
        return dict(body.get("results") or {})
