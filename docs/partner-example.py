"""A small Roumu partner client (Python 3.11+, httpx): what docs/partner-api.md describes, runnable
against `make run`.

    python docs/partner-example.py --base-url http://127.0.0.1:8000 \\
        --client-id pc_… --client-secret … --jigyosho-id <事業所 id>

It gets a token (OAuth2 client credentials), starts a local webhook receiver, registers it for
`official_document.received`, registers a hire with an Idempotency-Key (twice: the second answer
is the first, replayed), and then waits for webhooks, verifying each signature and downloading the
公文書 when one arrives. Staff file the 資格取得届 in Roumu meanwhile.

The webhook signature check (`verify_signature`) is the part to copy: HMAC-SHA256 over
`<timestamp>.<raw body>` with the endpoint's secret, `Roumu-Webhook-Timestamp` within five
minutes of your clock, compared in constant time against every `v1=` in `Roumu-Webhook-Signature`
(two during a secret rotation), and the event id (`Roumu-Webhook-Id`) remembered so a redelivery
is not processed twice."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

REPLAY_WINDOW_SECONDS = 300


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None,
                     window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """True when the delivery was signed by Roumu with `secret` within the replay window.

    `headers` are the request's headers (any case); `body` the raw bytes, before any JSON parsing."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get("roumu-webhook-timestamp", "")
    signatures = lower.get("roumu-webhook-signature", "")
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > window:
        return False  # too old (a replay) or from a clock far off
    expected = "v1=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s.strip()) for s in signatures.split(","))


class Partner:
    """The calls a partner system makes, through the gateway."""

    def __init__(self, base_url: str, client_id: str, client_secret: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.client_id, self.client_secret = client_id, client_secret
        self._token: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        if self._token is None or time.time() > self._expires - 60:
            r = self.http.post("/api/v1/auth/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(self.client_id, self.client_secret))
            r.raise_for_status()
            body = r.json()
            self._token, self._expires = body["access_token"], time.time() + body["expires_in"]
        return self._token

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kw.pop("headers", {})}
        r = self.http.request(method, path, headers=headers, **kw)
        if r.status_code == 429:  # published limits: wait as told, then once more
            time.sleep(int(r.headers.get("Retry-After", "1")))
            r = self.http.request(method, path, headers=headers, **kw)
        return r

    def register_webhook(self, url: str, event_types: list[str]) -> dict[str, Any]:
        r = self.call("POST", "/api/v1/webhooks/endpoints", json={"url": url, "event_types": event_types},
                      headers={"Idempotency-Key": f"endpoint-{uuid.uuid4()}"})
        r.raise_for_status()
        endpoint: dict[str, Any] = r.json()
        return endpoint

    def register_hire(self, person: dict[str, Any], key: str) -> httpx.Response:
        return self.call("POST", "/api/v1/koyo-hoken/insured-persons", json=person, headers={"Idempotency-Key": key})

    def download(self, link: str) -> bytes:
        r = self.call("GET", link)
        r.raise_for_status()
        return r.content


class Receiver:
    """A webhook receiver on 127.0.0.1: verifies, deduplicates, queues the events."""

    def __init__(self, secret: str = "", port: int = 0) -> None:
        self.secret = secret
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not verify_signature(receiver.secret, dict(self.headers.items()), body):
                    self.send_response(401)
                    self.end_headers()
                    return
                event_id = self.headers.get("Roumu-Webhook-Id", "")
                if event_id not in receiver.seen:  # a redelivery of one already handled: just 2xx
                    receiver.seen.add(event_id)
                    receiver.events.put(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/roumu-webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", default="http://127.0.0.1:8000")
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--client-secret", required=True)
    ap.add_argument("--jigyosho-id", required=True)
    ap.add_argument("--wait-seconds", type=float, default=600)
    args = ap.parse_args()

    partner = Partner(args.base_url, args.client_id, args.client_secret)
    receiver = Receiver()
    endpoint = partner.register_webhook(receiver.url, ["official_document.received"])
    receiver.secret = endpoint["secret"]
    print("webhook endpoint", endpoint["id"], "→", receiver.url)

    hire = {"jigyosho_id": args.jigyosho_id, "family_name": "山田", "given_name": "太郎",
            "family_name_kana": "ヤマダ", "given_name_kana": "タロウ", "birth_date": "1990-04-01",
            "hire_date": time.strftime("%Y-%m-%d"), "weekly_hours": "40", "gender": "male",
            "employment_type": "regular", "wage_payment": "monthly", "monthly_wage": 300000, "job_type": "事務"}
    key = f"hire-{uuid.uuid4()}"
    first = partner.register_hire(hire, key)
    again = partner.register_hire(hire, key)
    print("hire", first.status_code, first.json().get("id"), "| resent:", again.status_code,
          "replayed" if again.headers.get("Idempotent-Replayed") == "true" else "NOT replayed")

    deadline = time.monotonic() + args.wait_seconds
    while time.monotonic() < deadline:
        try:
            event = receiver.events.get(timeout=1)
        except queue.Empty:
            continue
        print("webhook", event["type"], event["subject"])
        if event["type"] == "official_document.received":
            data = partner.download(event["links"]["document"])
            print("公文書", len(data), "bytes (ZIP)")
            return
    print("no 公文書 yet; staff file the 資格取得届 in Roumu")


if __name__ == "__main__":
    main()
