"""The e-Gov sandbox as a real HTTP server for tests: uvicorn on a free loopback port in a thread,
plus a small client for its /_sandbox control paths. The only stand-in these tests use."""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import threading
import uuid
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn

from services.egov_sandbox.app import create_app
from services.egov_sandbox.settings import SandboxSettings
from shared.settings import CommonSettings
from tests.support.egov_spec import SpecCheck
from tests.support.nats_server import free_port

CLIENT_ID = "roumu-sandbox"
CLIENT_SECRET = "sandbox-api-key"
REDIRECT = "http://127.0.0.1/efiling/callback"
SHUTOKU_NAME = "雇用保険被保険者資格取得届（令和４年６月以降手続き）／電子申請"


class SandboxServer:
    def __init__(self, settings: CommonSettings, **sandbox: Any) -> None:
        self.port = free_port()
        app = create_app(settings=settings, background=False,
                         sandbox_settings=SandboxSettings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **sandbox))
        app.add_middleware(SpecCheck)  # every answer checked against e-Gov's published OpenAPI v2
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="on",
                                http="httptools", loop="asyncio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/shinsei/v2"

    @property
    def auth(self) -> str:
        return f"{self.url}/auth"

    def start(self) -> SandboxServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("sandbox did not start")
            self.thread.join(0.02)
        return self

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(30)

    # ---- control
    def reset(self) -> None:
        self.http.post("/_sandbox/reset").raise_for_status()

    def script(self, **body: Any) -> None:
        self.http.put("/_sandbox/script", json=body).raise_for_status()

    def fault(self, **body: Any) -> None:
        self.http.post("/_sandbox/faults", json=body).raise_for_status()

    def requests(self, path: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"path": path, "method": method}.items() if v}
        r = self.http.get("/_sandbox/requests", params=params)
        r.raise_for_status()
        return list(r.json())

    def cases(self, account: str | None = None) -> list[dict[str, Any]]:
        r = self.http.get("/_sandbox/cases", params={"account": account} if account else {})
        r.raise_for_status()
        return list(r.json())

    def advance(self, arrive_id: str) -> dict[str, Any]:
        r = self.http.post(f"/_sandbox/cases/{arrive_id}/advance")
        r.raise_for_status()
        return dict(r.json())

    def token_for(self, account: str) -> dict[str, Any]:
        """The whole code + PKCE dance for one account; returns the token response."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        r = self.http.get("/auth/auth", params={
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
            "scope": "openid offline_access", "state": "s1", "code_challenge": challenge,
            "code_challenge_method": "S256", "login_hint": account})
        assert r.status_code == 302, r.text
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        r = self.http.post("/auth/token", auth=(CLIENT_ID, CLIENT_SECRET), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
        assert r.status_code == 200, r.text
        return dict(r.json())


def new_account() -> str:
    return f"acct-{uuid.uuid4().hex[:10]}"


def simple_package(proc_id: str = "4950008680033000", *, apply_type: str = "新規申請", first_arrive_id: str = "",
                   kousei_proc_id: str | None = None, attachments: dict[str, bytes] | None = None,
                   declare: list[str] | None = None, form_name: str = "495008680033800330_01.xml",
                   root: str | None = None, applicant: str = "山田太郎", proc_name: str = SHUTOKU_NAME) -> str:
    """A hand-written package for sandbox tests (the efiling builder has its own tests)."""
    atts = attachments or {}
    declared = declare if declare is not None else list(atts)
    att_xml = "".join(
        f"<添付書類属性情報><添付種別>添付</添付種別><添付書類名称>{n}</添付書類名称>"
        f"<添付書類ファイル名称>{n}</添付書類ファイル名称><提出情報>1</提出情報></添付書類属性情報>" for n in declared)
    kousei = (
        '<?xml version="1.0" encoding="UTF-8"?><DataRoot><様式ID>999000000000000001</様式ID>'
        "<様式バージョン>0001</様式バージョン><STYLESHEET>999000000000000001.xsl</STYLESHEET>"
        '<構成情報 ID="構成情報"><管理情報><手続番号><受付行政機関ID>100495</受付行政機関ID>'
        f"<手続ID>{kousei_proc_id or proc_id}</手続ID></手続番号><手続名称>{proc_name}</手続名称>"
        f"<初回受付番号>{first_arrive_id}</初回受付番号><申請種別>{apply_type}</申請種別>"
        f"<申請者連絡先情報><申請者情報><氏名>{applicant}</氏名><法人団体名>株式会社サンプル</法人団体名></申請者情報>"
        f"</申請者連絡先情報></管理情報>{att_xml}<申請書属性情報><申請書様式ID>495008680033800330</申請書様式ID>"
        "<申請書様式バージョン>0001</申請書様式バージョン><申請書様式名称>資格取得届</申請書様式名称>"
        f"<申請書ファイル名称>{form_name}</申請書ファイル名称></申請書属性情報></構成情報><その他/></DataRoot>"
    )
    form = '<?xml version="1.0" encoding="UTF-8"?><DataRoot><様式ID>495008680033800330</様式ID></DataRoot>'
    top = root or proc_id
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{top}/kousei.xml", kousei)
        zf.writestr(f"{top}/495008680033800330_01.xml", form)
        for name, data in atts.items():
            zf.writestr(f"{top}/{name}", data)
    return base64.b64encode(buf.getvalue()).decode()


class FilesServer:
    """The files service as a real HTTP server (uvicorn in a thread, its own lifespan), where
    efiling stores 公文書 through the internal official-documents route."""

    def __init__(self, settings: CommonSettings) -> None:
        from services.files.app import create_app as create_files_app

        self.port = free_port()
        config = uvicorn.Config(create_files_app(settings=settings, background=False), host="127.0.0.1",
                                port=self.port, log_level="critical", lifespan="on", http="httptools", loop="asyncio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FilesServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("files service did not start")
            self.thread.join(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
