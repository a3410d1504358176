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
AUTH = {"Authorization": "Bearer sandbox-token"}


def package(root: str = PROC_ID) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{root}/kousei.xml", "<構成管理情報/>")
        zf.writestr(f"{root}/{PROC_ID}01_01.xml", "<申請書/>")
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
    r = c.post("/shinsei/v2/apply", headers=AUTH, json=apply_body())
    assert r.status_code == 200, r.text
    body = r.json()
    arrive_id = body["results"]["arrive_id"]
    assert re.fullmatch(r"[0-9]{16}", arrive_id)
    arrive_date = datetime.strptime(body["results"]["arrive_date"], "%Y-%m-%d %H:%M:%S")
    jst_now = datetime.now(timezone(timedelta(hours=9))).replace(tzinfo=None)
    assert abs(jst_now - arrive_date) < timedelta(minutes=1)  # Japan time, not UTC
    assert body["metadata"]["instance"] == "/shinsei/v2/apply"
    assert body["_links"]["status"] == f"/shinsei/v2/apply/{arrive_id}"

    r = c.get(f"/shinsei/v2/apply/{arrive_id}", headers=AUTH)
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
    r = c.get("/shinsei/v2/apply/1234567890123456", headers=AUTH)
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
    for body in bad:
        r = c.post("/shinsei/v2/apply", headers=AUTH, json=body)
        assert r.status_code == 400, r.text
        problem = r.json()
        assert problem["title"] == "Bad Request" and problem["instance"] == "/shinsei/v2/apply"
        assert set(problem) == {"title", "detail", "type", "instance"}
    r = c.get("/shinsei/v2/apply/12AB", headers=AUTH)
    assert r.status_code == 400


def test_missing_bearer_is_401_with_www_authenticate(service_client):
    c = service_client("egov_sandbox")
    r = c.post("/shinsei/v2/apply", json=apply_body())
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith('Bearer realm="e-Gov"')
    assert r.json()["title"] == "Unauthorized"


def test_not_under_the_gateway_prefix(service_client):
    c = service_client("egov_sandbox")
    assert c.post("/api/v1/shinsei/v2/apply", headers=AUTH, json=apply_body()).status_code == 404
