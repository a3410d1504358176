"""e-Gov sandbox skeleton: health, readiness and metrics; an application gets a 到達番号 and its
case can be read back, in e-Gov's own envelope and error shapes."""

import base64
import io
import re
import zipfile
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, func, select

from services.egov_sandbox.models import messaging

PROC_ID = "950A010002012000"


def auth(c) -> dict[str, str]:
    """A real sandbox access token (code + PKCE through the sandbox's own /auth endpoints)."""
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlsplit

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    r = c.get("/auth/auth", params={"response_type": "code", "client_id": "roumu-sandbox",
                                    "redirect_uri": "http://127.0.0.1/cb", "state": "s", "code_challenge": challenge,
                                    "code_challenge_method": "S256"}, follow_redirects=False)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    r = c.post("/auth/token", auth=("roumu-sandbox", "sandbox-api-key"), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1/cb",
        "code_verifier": verifier})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


KOUSEI = (
    '<DataRoot><構成情報 ID="構成情報"><管理情報><手続番号><手続ID>950A010002012000</手続ID></手続番号>'
    "<手続名称>テスト手続／テスト手続</手続名称><申請種別>新規申請</申請種別>"
    "<申請者連絡先情報><申請者情報><氏名>山田太郎</氏名></申請者情報></申請者連絡先情報></管理情報><申請書属性情報><申請書様式ID>950A01000200800001</申請書様式ID>"
    "<申請書様式バージョン>0001</申請書様式バージョン><申請書ファイル名称>form_01.xml</申請書ファイル名称>"
    "</申請書属性情報></構成情報></DataRoot>"
)


def package(root: str = PROC_ID) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{root}/kousei.xml", KOUSEI)
        zf.writestr(f"{root}/form_01.xml", "<DataRoot><様式ID>950A01000200800001</様式ID></DataRoot>")
    return base64.b64encode(buf.getvalue()).decode()


def apply_body(**over):
    return {"proc_id": PROC_ID, "send_file": {"file_name": f"{PROC_ID}.zip", "file_data": package()}, **over}


def test_health_ready_and_metrics(service_client):
    c = service_client("egov_sandbox")
    assert c.get("/healthz").json() == {"status": "ok", "service": "egov_sandbox"}
    r = c.get("/readyz")
    assert r.status_code in (200, 503) and r.json()["checks"]["database"] == "ok"
    assert "roumu_http_requests_total" in c.get("/metrics").text


def test_apply_issues_an_arrive_id_and_the_case_reads_back(service_client, settings):
    c = service_client("egov_sandbox")
    r = c.post("/shinsei/v2/apply", headers=auth(c), json=apply_body())
    assert r.status_code == 200, r.text
    body = r.json()
    arrive_id = body["results"]["arrive_id"]
    assert re.fullmatch(r"[0-9]{16}", arrive_id)
    arrive_date = datetime.strptime(body["results"]["arrive_date"], "%Y-%m-%d %H:%M:%S")
    jst_now = datetime.now(timezone(timedelta(hours=9))).replace(tzinfo=None)
    assert abs(jst_now - arrive_date) < timedelta(minutes=1)  # Japan time, not UTC
    assert body["metadata"]["instance"] == "/shinsei/v2/apply"
    assert body["_links"]["status"] == f"/shinsei/v2/apply/{arrive_id}"

    r = c.get(f"/shinsei/v2/apply/{arrive_id}", headers=auth(c))
    assert r.status_code == 200
    results = r.json()["results"]
    assert results["status"] == "到達" and results["arrive_id"] == arrive_id
    assert results["arrive_date"] == body["results"]["arrive_date"]

    # Outside Roumu: nothing is ever put on our event bus.
    engine = create_engine(settings.database_url("egov_sandbox"))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messaging.outbox)).scalar() == 0
    engine.dispose()


def test_unknown_case_is_a_bare_404(service_client):
    c = service_client("egov_sandbox")
    r = c.get("/shinsei/v2/apply/1234567890123456", headers=auth(c))
    assert r.status_code == 404 and r.content == b""


def test_bad_packages_are_400_in_egov_shape(service_client):
    c = service_client("egov_sandbox")
    bad = [
        apply_body(send_file={"file_name": "a.zip", "file_data": "not base64!"}),
        apply_body(send_file={"file_name": "a.zip", "file_data": base64.b64encode(b"plain text").decode()}),
        apply_body(send_file={"file_name": "a.zip", "file_data": package(root="WRONGROOT0000000")}),
        apply_body(proc_id="short"),
        apply_body(send_file={"file_name": "a.pdf", "file_data": package()}),
    ]
    headers = auth(c)
    for body in bad:
        r = c.post("/shinsei/v2/apply", headers=headers, json=body)
        assert r.status_code == 400, r.text
        problem = r.json()
        assert problem["title"] == "Bad Request" and problem["instance"] == "/shinsei/v2/apply"
        assert set(problem) - {"report_list"} == {"title", "detail", "type", "instance"}
    r = c.get("/shinsei/v2/apply/12AB", headers=headers)
    assert r.status_code == 400


def test_missing_bearer_is_401_with_www_authenticate(service_client):
    c = service_client("egov_sandbox")
    r = c.post("/shinsei/v2/apply", json=apply_body())
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith('Bearer realm="e-Gov"')
    assert r.json()["title"] == "Unauthorized"


def test_not_under_the_gateway_prefix(service_client):
    c = service_client("egov_sandbox")
    assert c.post("/api/v1/shinsei/v2/apply", headers=auth(c), json=apply_body()).status_code == 404
