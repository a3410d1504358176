"""The rendered Partner API reference: static HTML made from the partner contract and the AsyncAPI
document by `python -m ops.contracts`, served by the gateway at /api/v1/partner/docs (and
/api/v1/partner/docs/events) with its stylesheet beside it. No script at all, nothing from a CDN:
it reads offline and sits inside the strictest CSP (`default-src 'none'; style-src 'self'`)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_HTML = ROOT / "contracts" / "public" / "partner-api.v1.html"
EVENTS_HTML = ROOT / "contracts" / "public" / "events.v1.html"
STYLESHEET = ROOT / "contracts" / "public" / "reference.css"
CSS_PATH = "/api/v1/partner/docs/reference.css"
_METHODS = ("get", "post", "put", "patch", "delete")

CSS = """body{font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;margin:0 auto;max-width:72rem;
padding:1rem 2rem;line-height:1.5;color:#1a1a1a}
nav{border-bottom:1px solid #ccc;margin-bottom:1rem;padding-bottom:.5rem}
h2{border-bottom:2px solid #2a5d9f;padding-bottom:.2rem;margin-top:2.5rem}
h3{margin-top:2rem}
.op{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.method{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:monospace;text-transform:uppercase}
.get{color:#1b7f3b}.post{color:#2a5d9f}.put,.patch{color:#9a6700}.delete{color:#b42318}
code,.path{font-family:ui-monospace,monospace}
table{border-collapse:collapse;margin:.5rem 0;width:100%}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f6fa}
.desc{white-space:pre-wrap}
"""


def _anchor(kind: str, name: str) -> str:
    return f"{kind}-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def type_of(schema: Any) -> str:
    """A schema as a short HTML phrase: links for $refs, `array of …`, `a | b`, formats, enums."""
    if not isinstance(schema, dict):
        return "any"
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f'<a href="#{_anchor("schema", name)}">{escape(name)}</a>'
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(type_of(s) for s in schema[key])
    if "const" in schema:
        return f"<code>{escape(json.dumps(schema['const'], ensure_ascii=False))}</code>"
    if "enum" in schema:
        return " | ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if isinstance(kind, list):
        return " | ".join(escape(str(k)) for k in kind)
    if kind == "array":
        return "array of " + type_of(schema.get("items"))
    fmt = schema.get("format") or schema.get("contentMediaType")
    return escape(str(kind)) + (f" ({escape(str(fmt))})" if fmt else "")


def _text(value: Any) -> str:
    return f'<div class="desc">{escape(str(value))}</div>' if value else ""


def _properties(schema: dict[str, Any]) -> str:
    props = schema.get("properties") or {}
    if not props:
        return ""
    required = set(schema.get("required") or [])
    rows = "".join(
        f"<tr><td><code>{escape(n)}</code>{' *' if n in required else ''}</td><td>{type_of(p)}</td>"
        f"<td>{escape(str(p.get('description', '')) if isinstance(p, dict) else '')}</td></tr>"
        for n, p in props.items())
    return f"<table><tr><th>項目 (* 必須)</th><th>型</th><th>説明</th></tr>{rows}</table>"


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    out = [f'<div class="op" id="{_anchor("op", str(op.get("operationId", method + path)))}">',
           f'<span class="method {method}">{method}</span> <span class="path">{escape(path)}</span>',
           f"<p><code>{escape(str(op.get('operationId', '')))}</code>"
           + (f" — スコープ: {', '.join(f'<code>{escape(s)}</code>' for s in op.get('x-roumu-scopes', []))}"
              if op.get("x-roumu-scopes") else "") + "</p>",
           _text(op.get("description") or op.get("summary"))]
    params = op.get("parameters") or []
    if params:
        prows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code>{' *' if p.get('required') else ''}</td><td>{escape(p['in'])}"
            f"</td><td>{type_of(p.get('schema'))}</td><td>{escape(str(p.get('description', '')))}</td></tr>"
            for p in params)
        out.append(f"<table><tr><th>パラメーター</th><th>場所</th><th>型</th><th>説明</th></tr>{prows}</table>")
    for media, entry in ((op.get("requestBody") or {}).get("content") or {}).items():
        out.append(f"<p>本文 (<code>{escape(media)}</code>): {type_of(entry.get('schema'))}</p>")
    rows: list[str] = []
    for status, resp in (op.get("responses") or {}).items():
        bodies = ", ".join(f"{type_of(e.get('schema'))} (<code>{escape(m)}</code>)"
                           for m, e in (resp.get("content") or {}).items())
        headers = ", ".join(f"<code>{escape(h)}</code>" for h in (resp.get("headers") or {}))
        rows.append(f"<tr><td>{escape(status)}</td><td>{escape(str(resp.get('description', '')))}</td>"
                    f"<td>{bodies}</td><td>{headers}</td></tr>")
    out.append(f"<table><tr><th>応答</th><th>説明</th><th>本文</th><th>ヘッダー</th></tr>{''.join(rows)}</table>")
    out.append("</div>")
    return "\n".join(out)


def _page(title: str, nav: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><link rel=\"stylesheet\" href=\"{CSS_PATH}\"></head><body>\n"
            f"<nav>{nav}</nav>\n" + "\n".join(body) + "\n</body></html>\n")


NAV = ('<a href="/api/v1/partner/docs">Partner API</a> · <a href="/api/v1/partner/docs/events">イベント (AsyncAPI)'
       '</a> · <a href="/api/v1/partner/openapi.json">openapi.json</a> · '
       '<a href="/api/v1/partner/asyncapi.json">asyncapi.json</a>')


def render_reference(doc: dict[str, Any]) -> str:
    info = doc["info"]
    body = [f"<h1>{escape(info['title'])} {escape(info['version'])}</h1>", _text(info.get("description"))]
    by_tag: dict[str, list[str]] = {}
    for path, item in doc["paths"].items():
        for method in _METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append(_operation(path, method, item[method]))
    for tag, ops in by_tag.items():
        body += [f'<h2 id="{_anchor("tag", tag)}">{escape(tag)}</h2>', *ops]
    body.append('<h2 id="webhooks">Webhook</h2>')
    for name, item in (doc.get("webhooks") or {}).items():
        op = item["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        body.append(f'<div class="op" id="{_anchor("webhook", name)}"><b>{escape(name)}</b>: '
                    f"{escape(str(op.get('summary', '')))} — 本文 {type_of(schema)}</div>")
    problem = doc["components"]["schemas"].get("Problem", {})
    rows = "".join(f"<tr><td><code>{escape(slug)}</code></td><td>{t['status']}</td><td>{escape(t['title'])}</td></tr>"
                   for slug, t in (problem.get("x-roumu-problem-types") or {}).items())
    body.append(f'<h2 id="problems">エラーの種類 (Problem.type)</h2><table><tr><th>種類</th><th>status</th>'
                f"<th>意味</th></tr>{rows}</table>")
    body.append('<h2 id="schemas">スキーマ</h2>')
    for name, schema in doc["components"]["schemas"].items():
        body.append(f'<h3 id="{_anchor("schema", name)}">{escape(name)}</h3>{_text(schema.get("description"))}'
                    + (f"<p>{type_of({k: v for k, v in schema.items() if k != 'description'})}</p>"
                       if "properties" not in schema else "") + _properties(schema))
    return _page(f"{info['title']} {info['version']}", NAV, body)


def render_events(doc: dict[str, Any]) -> str:
    info = doc["info"]
    body = [f"<h1>{escape(info['title'])} {escape(info['version'])} (AsyncAPI {escape(doc['asyncapi'])})</h1>",
            _text(info.get("description"))]
    schemas = doc["components"]["schemas"]
    for key, channel in doc["channels"].items():
        message = doc["components"]["messages"][key]
        data = (schemas[key].get("properties") or {}).get("data") or {}
        subject = ((schemas[key].get("properties") or {}).get("subject") or {}).get("required") or []
        body.append(f'<div class="op" id="{_anchor("event", channel["address"])}"><b><code>'
                    f"{escape(channel['address'])}</code></b>{_text(message.get('summary'))}"
                    f"<p>subject: {', '.join(f'<code>{escape(s)}</code>' for s in subject)}</p>"
                    f"{_properties(data)}</div>")
    return _page(f"{info['title']} (AsyncAPI)", NAV, body)
