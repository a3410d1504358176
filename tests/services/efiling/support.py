"""efiling against the sandbox: an Egov wired to the sandbox's URLs, linked accounts, filings."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from services.efiling import service, submission
from services.efiling.egov_accounts import Egov, finish_link, start_link
from services.efiling.models import Filing
from services.efiling.schemas import FilingCreate
from services.efiling.settings import EfilingSettings
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import load_data_keys
from shared.db import Database
from shared.events import SYSTEM
from tests.services.egov_support import CLIENT_ID, CLIENT_SECRET, REDIRECT, SandboxServer

PROC = "4950008680033000"
FORM = "495008680033800330"
APPLICANT = {"氏名": "社労士 花子", "法人団体名": "花子社会保険労務士事務所", "電話番号": "03-1234-5678"}


def shutoku(**over: Any) -> dict[str, Any]:
    fields = {"被保険者氏名": "山田太郎", "被保険者氏名フリガナ": "ヤマダタロウ", "性別": "1",
              "生年月日": {"年号": "5", "年": "02", "月": "04", "日": "01"},
              "事業所番号": {"事業所番号4桁": "1301", "事業所番号6桁": "123456", "事業所番号CD": "7"},
              "資格取得年月日": {"年号": "5", "年": "08", "月": "04", "日": "01"}, **over}
    return {FORM: fields}


class Sleeps:
    """The sleep the client and the state machine are given: it records the backoff asked for and
    returns at once (tests assert that backoff happened, never how long anything took)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def efiling_settings(sandbox: SandboxServer, **over: Any) -> EfilingSettings:
    """efiling pointed at the test sandbox (no polling delay, short retries)."""
    base: dict[str, Any] = {"egov_auth_url": sandbox.auth, "egov_api_url": sandbox.api, "egov_client_id": CLIENT_ID,
                            "egov_client_secret": CLIENT_SECRET, "egov_redirect_uri": REDIRECT,
                            "retry_base_seconds": 0.5, "maintenance_base_seconds": 5, "poll_interval_seconds": 0,
                            "verify_remotely": True, "http_timeout_seconds": 10}
    return EfilingSettings(**{**base, **over})


def make_egov(settings, sandbox: SandboxServer, clock: Clock = SYSTEM_CLOCK, **over: Any) -> tuple[Egov, Sleeps]:
    cfg = efiling_settings(sandbox, **over)
    sleeps = Sleeps()
    return Egov(cfg, load_data_keys(settings.keys_dir), httpx.Client(timeout=cfg.http_timeout_seconds), clock,
                sleeps), sleeps


def link_account(db: Database, egov: Egov, sandbox: SandboxServer, tenant: str, account: str) -> str:
    with db.transaction() as session:
        acct, url = start_link(session, egov, tenant, "事務所", login_hint=account)
        acct_id = acct.id
    r = sandbox.http.get(url)
    assert r.status_code == 302, r.text
    q = parse_qs(urlsplit(r.headers["location"]).query)
    with db.transaction() as session:
        finish_link(session, egov, tenant, q["code"][0], q["state"][0])
    return acct_id


def new_filing(db: Database, egov: Egov, tenant: str, account_id: str, form_data: dict[str, Any] | None = None,
               key: str | None = None) -> str:
    with db.transaction() as session:
        f, _ = service.draft_filing(session, tenant, FilingCreate(jigyosho_id="js-1", procedure_code=PROC,
                                                                  title="資格取得届"), SYSTEM, key)
        submission.create_submission(session, egov, f, egov_account_id=account_id,
                                     form_data=form_data or shutoku(), applicant=APPLICANT)
        return f.id


def filing(db: Database, filing_id: str) -> Filing:
    with db.sessions() as session:
        f = session.get(Filing, filing_id)
        assert f is not None
        return f


def tenant() -> str:
    return str(uuid.uuid4())
