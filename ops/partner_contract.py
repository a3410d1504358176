"""The public Partner API contract: one OpenAPI document of everything a partner may call.

Built from the services' own OpenAPI documents (ops.contracts builds them) by taking every
operation marked `x-roumu-partner: {"scopes": [...]}` (set with `openapi_extra` on the route), plus
auth's token endpoint, with the schemas they refer to, the OAuth2 client-credentials scheme and
its scopes, the common headers (rate limits, request id), problem examples, and the webhook
payloads (OpenAPI 3.1 `webhooks`). Written to contracts/public/partner-api.v1.json by `make
contracts`; the gateway serves it at GET /api/v1/partner/openapi.json. Changes are recorded in
contracts/public/CHANGELOG.md (a reviewed, by-hand file)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.auth.rules.scopes import SCOPES
from services.webhooks.events import EVENT_TYPES, LINKS, PUBLIC_TYPES
from services.webhooks.rules import signing
from shared.event_schemas import load_schema, schema_files
from shared.openapi_polish import SECURITY_SCHEMES, hoist_enums
from shared.problem_types import problem_type_base

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_DIR = ROOT / "contracts" / "public"
PARTNER_CONTRACT = PUBLIC_DIR / "partner-api.v1.json"
MARK = "x-roumu-partner"
TOKEN_PATH = "/api/v1/auth/oauth/token"  # noqa: S105 - a path
SERVED_AT = "/api/v1/partner/openapi.json"
VERSION = "1.2.0"
_METHODS = ("get", "put", "post", "delete", "patch")

DESCRIPTION = f"""Roumu の Partner API (v1): 従業員ポータル、書類交換サービス、マイナンバー収集サービスなど、
社労士事務所が連携を許可したシステム向けの公開 API です。この文書だけで連携できることを目指しています。

## 認証
OAuth2 client credentials: `POST {TOKEN_PATH}` (HTTP Basic で client_id / client_secret,
`grant_type=client_credentials`, 任意で `scope`)。アクセストークンは 10 分有効、`Authorization: Bearer …` で送ります。
クライアントはテナント (事務所) の管理者が発行し、**スコープ**と**事業所**を許可します。

## 権限と応答
* スコープがない操作: **403** `…/problems/forbidden` (`menu` または `scope` に不足分)。
* 別テナントの ID、許可されていない事業所の ID: **404** `…/problems/not-found` — 存在しない ID と区別できません。
* エラーはすべて `application/problem+json` (RFC 9457): `type` (プログラムが分岐に使う URI), `title`, `status`,
  `detail`, `instance`, `request_id`, 入力エラーは `errors[]` (`field`, `message`, `code`; 入力値は返しません)。

| type (…/problems/) | status | 意味 |
| --- | --- | --- |
| `unauthenticated` | 401 | トークンがない・期限切れ・不正 |
| `invalid-client`, `invalid-scope` | 401 / 400 | トークン発行時のクライアント認証・スコープ |
| `forbidden` | 403 | スコープまたは権限がない |
| `not-found` | 404 | ない、または見えない (別テナント・許可外の事業所) |
| `validation` | 422 | 入力エラー (`errors[]`) |
| `idempotency-key-reused` | 422 | 同じ Idempotency-Key を別の内容で使った |
| `precondition-required`, `precondition-failed` | 428 / 412 | If-Match がない / 古い |
| `rate-limited` | 429 | レート制限 (`Retry-After`) |

## 冪等性 (Idempotency-Key)
登録系の POST は `Idempotency-Key` ヘッダー (1〜100 文字の ASCII) を受け付けます。同じキー・同じ内容の再送は
最初の応答をそのまま返し (`Idempotent-Replayed: true`)、同じキーで内容が違えば 422 `idempotency-key-reused`。
キーはクライアントごとに少なくとも 24 時間保持されます。失敗した要求 (4xx/5xx) は記録されず、再送すると再実行されます。

## 一覧・絞り込み
一覧は `limit` (1〜100, 既定 50) と `offset` で、応答は `{{"items": [...], "total", "limit", "offset", "next"}}`
(`next` は次のページの URL、最後のページでは null)。絞り込みはクエリパラメーター (例 `jigyosho_id`, `status`)。
許可された事業所のものだけが返ります。

同期: 被保険者・手続・電子申請の一覧は `sort` (`created_at`, `updated_at`, 先頭に `-` で降順) と `updated_since`
(含む) を受け付けます。`sort=updated_at&updated_since=<前回見た最後の updated_at>` で読み、`next` をたどります
(境界の項目はもう一度届くので id と version で重複を除いてください)。変更は `person.updated` Webhook でも届きます。

## レート制限
パートナークライアントごとの制限があります。ゲートウェイはパートナーへのすべての応答に
`RateLimit-Policy: "partner";q=<件数>;w=<秒>` と `RateLimit: "partner";r=<残り>;t=<リセットまでの秒>`
(draft-ietf-httpapi-ratelimit-headers) を付け、超えると 429 と `Retry-After` を返します。
トークン発行 (`POST {TOKEN_PATH}`) は client_id ごとに 60 回/分・1000 回/時 (`"token"` ポリシー) で、
誤ったシークレットは送信元 IP ごとにも数えます (続くと 429)。トークンは期限の少し前に更新してください。

## Webhook
`POST /api/v1/webhooks/endpoints` (スコープ `webhooks:manage`) で URL とイベントを登録します。配信は JSON の POST で:

* `{signing.ID_HEADER}`: イベント ID (再送・再配信でも同じ。重複排除に使う)
* `{signing.TYPE_HEADER}`: イベントの種類
* `{signing.TIMESTAMP_HEADER}`: 署名時刻 (Unix 秒)
* `{signing.SIGNATURE_HEADER}`: `v1=<hex>` (シークレットのローテーション中は 2 つ、カンマ区切り)

署名は HMAC-SHA256(シークレット, `<timestamp>.<生の本文>`)。受信側は時刻が自分の時計から
{signing.REPLAY_WINDOW_SECONDS // 60} 分以内であることを確かめ、いずれかの `v1=` と定数時間で比較してください
(docs/partner-example.py に検証コード)。2xx 以外・タイムアウトは指数バックオフで 24 時間以上再試行され、
同じ対象 (申請・手続・被保険者) のイベントは発生順に届きます。失敗し続けた送信先は自動停止され
(`status: disabled`, `disabled_reason: persistent_failure`)、`PATCH` で再開、配信ログから再配信できます。

## バージョン
パスは `/api/v1` の下にあり、v1 の中では互換性のある変更 (項目・操作・イベントの追加) だけを行います。
変更履歴は contracts/public/CHANGELOG.md。
"""

_BASE = problem_type_base()
PROBLEM_EXAMPLES: dict[str, dict[str, Any]] = {
    "forbidden": {"summary": "スコープがない", "value": {
        "type": _BASE + "forbidden", "title": "この操作を行う権限がありません", "status": 403,
        "detail": "「雇用保険」メニューの更新権限がありません", "instance": "/api/v1/koyo-hoken/insured-persons",
        "request_id": "4f1c2b7e9a0d4c6e8b1a2f3d4e5c6b7a", "menu": "koyo_hoken", "level": "write"}},
    "not-found": {"summary": "ない、または見えない (別テナント・許可外の事業所)", "value": {
        "type": _BASE + "not-found", "title": "見つかりません", "status": 404,
        "instance": "/api/v1/koyo-hoken/insured-persons/0d9a…", "request_id": "4f1c2b7e9a0d4c6e8b1a2f3d4e5c6b7a"}},
    "validation": {"summary": "入力エラー", "value": {
        "type": _BASE + "validation", "title": "入力内容に誤りがあります", "status": 422,
        "detail": "リクエストの項目を確認してください", "instance": "/api/v1/koyo-hoken/insured-persons",
        "request_id": "4f1c2b7e9a0d4c6e8b1a2f3d4e5c6b7a",
        "errors": [{"field": "body.hire_date", "message": "Field required", "code": "missing"}]}},
    "idempotency-key-reused": {"summary": "同じ Idempotency-Key を別の内容で使った", "value": {
        "type": _BASE + "idempotency-key-reused",
        "title": "この Idempotency-Key は別の内容の要求に使われています", "status": 422,
        "detail": "要求ごとに新しいキーを指定してください", "instance": "/api/v1/koyo-hoken/insured-persons",
        "request_id": "4f1c2b7e9a0d4c6e8b1a2f3d4e5c6b7a"}},
    "rate-limited": {"summary": "レート制限", "value": {
        "type": _BASE + "rate-limited",
        "title": "リクエストが多すぎます。しばらくしてから再度お試しください", "status": 429,
        "detail": "17 秒後に再度お試しください", "instance": "/api/v1/koyo-hoken/insured-persons",
        "request_id": "4f1c2b7e9a0d4c6e8b1a2f3d4e5c6b7a"}},
}
_EXAMPLES_BY_STATUS = {"403": ["forbidden"], "404": ["not-found"], "422": ["validation", "idempotency-key-reused"],
                       "429": ["rate-limited"]}

HEADERS: dict[str, Any] = {
    "RateLimit": {"description": 'パートナークライアントの残り: `"partner";r=<残り>;t=<リセットまでの秒>`',
                  "schema": {"type": "string"}, "example": '"partner";r=598;t=42'},
    "RateLimit-Policy": {"description": 'パートナークライアントの制限: `"partner";q=<件数>;w=<秒>`',
                         "schema": {"type": "string"}, "example": '"partner";q=600;w=60'},
    "X-Request-Id": {"description": "要求 ID (ログ・問い合わせ用、エラー本文の request_id と同じ)",
                     "schema": {"type": "string"}},
}

def _pascal(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[._]", name) if p)


def webhook_schema_name(public: str) -> str:
    """`official_document.received` → `OfficialDocumentReceivedWebhook`."""
    return _pascal(public) + "Webhook"


def webhook_schemas() -> dict[str, Any]:
    """One schema per webhook type, its `data` the `data` of the internal event's JSON Schema
    (contracts/events/), and `WebhookEvent`: their oneOf, discriminated by `type`."""
    files = schema_files()
    out: dict[str, Any] = {}
    for internal, (public, _key) in sorted(PUBLIC_TYPES.items(), key=lambda kv: kv[1][0]):
        props = load_schema(files[internal])["properties"]
        subject_ids = [k for k in props["subject"]["required"] if k != "tenant_id"]
        links = LINKS[public]
        out[webhook_schema_name(public)] = {
            "type": "object", "title": webhook_schema_name(public), "description": EVENT_TYPES[public],
            "required": ["id", "type", "occurred_at", "tenant_id", "subject", "data", "links"],
            "properties": {
                "id": {"type": "string", "description": "イベント ID (Roumu-Webhook-Id と同じ)"},
                "type": {"type": "string", "const": public},
                "occurred_at": {"type": "string", "format": "date-time"},
                "tenant_id": {"type": "string"},
                "subject": {"type": "object", "required": subject_ids,
                            "properties": {k: {"type": "string"} for k in subject_ids},
                            "additionalProperties": {"type": "string"}, "description": "対象の ID"},
                "data": {"$ref": f"#/components/schemas/{_pascal(public)}Data"},
                "links": {"type": "object", "required": list(links),
                          "properties": {k: {"type": "string"} for k in links},
                          "description": "次に読むもののパス (例: document = 公文書の ZIP)"},
            },
        }
        out[_pascal(public) + "Data"] = copy.deepcopy(props["data"]) | {
            "title": _pascal(public) + "Data", "description": "事実のみ (氏名・マイナンバーは含みません)"}
    refs = {public: f"#/components/schemas/{webhook_schema_name(public)}" for public in EVENT_TYPES}
    out["WebhookEvent"] = {
        "title": "WebhookEvent", "description": "Webhook の本文 (どの種類かは `type`)",
        "oneOf": [{"$ref": refs[p]} for p in sorted(refs)],
        "discriminator": {"propertyName": "type", "mapping": dict(sorted(refs.items()))},
    }
    return out


WEBHOOK_EXAMPLE = {
    "id": "6c1f0b1e-4d7e-4a53-9f6a-0d5a2f1c9b11", "type": "official_document.received",
    "occurred_at": "2026-04-20T03:12:45+00:00", "tenant_id": "0b3c…",
    "subject": {"filing_id": "a41e…", "jigyosho_id": "5f0c…"},
    "data": {"procedure_code": "4950008680033000", "status": "completed", "arrive_id": "1234567890123456",
             "notice_sub_id": 1, "document_id": "d2b9…", "signature_valid": True},
    "links": {"filing": "/api/v1/efiling/filings/a41e…", "document": "/api/v1/efiling/filings/a41e…/documents/d2b9…"},
}


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for v in node.values():
            _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


def _rename(node: Any, names: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/components/schemas/"):
                name = v.rsplit("/", 1)[1]
                out[k] = f"#/components/schemas/{names.get(name, name)}"
            else:
                out[k] = _rename(v, names)
        return out
    if isinstance(node, list):
        return [_rename(v, names) for v in node]
    return node


def _closure(schemas: Mapping[str, Any], start: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(schemas[name], found)
        todo += list(found - seen)
    return seen


def _decorate(op: dict[str, Any], scopes: list[str], *, keep_security: bool = False) -> None:
    if not keep_security:  # the token endpoint keeps its HTTP Basic
        op["security"] = [{"partner": scopes}] if scopes else []
    op["x-roumu-scopes"] = scopes
    for status, resp in op.get("responses", {}).items():
        if status.startswith("2"):
            resp.setdefault("headers", {}).update(
                {name: {"$ref": f"#/components/headers/{name}"} for name in HEADERS})
        examples = _EXAMPLES_BY_STATUS.get(status)
        content = resp.get("content", {}).get("application/problem+json")
        if examples and content is not None:
            content["examples"] = {k: {"$ref": f"#/components/examples/{k}"} for k in examples}
    op.setdefault("responses", {}).setdefault("429", {
        "description": "レート制限", "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"},
                                                 "examples": {"rate-limited":
                                                              {"$ref": "#/components/examples/rate-limited"}}}}})


def build(docs: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The merged document from the services' OpenAPI documents (name → document)."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    headers: dict[str, Any] = {}
    owner_of: dict[str, str] = {}
    for service, doc in docs.items():
        source = (doc.get("components") or {}).get("schemas") or {}
        headers.update((doc.get("components") or {}).get("headers") or {})
        picked: dict[str, dict[str, Any]] = {}
        for path, item in (doc.get("paths") or {}).items():
            for method in _METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                mark = op.get(MARK)
                if mark is None and not (path == TOKEN_PATH and method == "post"):
                    continue
                op = copy.deepcopy(op)
                op.pop(MARK, None)
                op["tags"] = [service]  # the operationId stays the service's own (`koyo_hoken.getProcedure`)
                _decorate(op, list((mark or {}).get("scopes", [])), keep_security=mark is None)
                picked.setdefault(path, {})[method] = op
        if not picked:
            continue
        used: set[str] = set()
        _refs(picked, used)
        needed = _closure(source, used)
        renames = {n: f"{service}_{n}" for n in needed
                   if n in schemas and schemas[n] != source[n] and owner_of.get(n) != service}
        for n in sorted(needed):
            target = renames.get(n, n)
            schemas[target] = _rename(source[n], renames)
            owner_of.setdefault(target, service)
        for path, ops in picked.items():
            paths.setdefault(path, {}).update(_rename(ops, renames))
    schemas.update(webhook_schemas())
    hoist_enums(schemas)  # the events' inline enums, as the services' own are
    webhooks = {
        name: {"post": {
            "summary": description, "operationId": f"webhook_{name.replace('.', '_')}",
            "parameters": [
                {"name": signing.ID_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
                {"name": signing.TYPE_HEADER, "in": "header", "required": True, "schema": {"const": name}},
                {"name": signing.TIMESTAMP_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
                {"name": signing.SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
                 "description": "v1=<hex HMAC-SHA256(secret, timestamp + '.' + body)>, カンマ区切りで複数可"},
            ],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{webhook_schema_name(name)}"},
                **({"example": WEBHOOK_EXAMPLE} if name == "official_document.received" else {})}}},
            "responses": {"2XX": {"description": "受け取った (2xx 以外は再試行されます)"}},
        }} for name, description in EVENT_TYPES.items()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Roumu Partner API", "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/", "description": "Roumu のゲートウェイ (このドキュメントは " + SERVED_AT + ")"}],
        "security": [{"partner": []}],
        "paths": dict(sorted(paths.items())),
        "webhooks": webhooks,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"partner": {"type": "oauth2", "flows": {"clientCredentials": {
                "tokenUrl": TOKEN_PATH, "scopes": dict(SCOPES)}}}, "clientBasic": SECURITY_SCHEMES["clientBasic"]},
            "headers": dict(sorted({**headers, **HEADERS}.items())),
            "examples": PROBLEM_EXAMPLES,
        },
    }
