"""Every problem `type` the services answer (RFC 9457), with its status and what it means.

The URI is `<base><slug>`; the base is the setting ROUMU_PROBLEM_TYPE_BASE (docs/problems.md has
an anchor per slug, so a deployment can point the base at its copy of that page). The contracts
list these in the Problem schema (`x-roumu-problem-types`); tests/contracts checks that every
slug the code raises is listed here."""

from __future__ import annotations

import os

DEFAULT_BASE = "https://roumu.example/problems/"


def problem_type_base() -> str:
    """ROUMU_PROBLEM_TYPE_BASE, read directly: errors are built in processes (and tools) that
    load no settings object; it ends with `/` or `#` so that the slug follows."""
    base = os.environ.get("ROUMU_PROBLEM_TYPE_BASE", "").strip() or DEFAULT_BASE
    return base if base.endswith(("/", "#")) else base + "/"


PROBLEM_TYPES: dict[str, tuple[int, str]] = {
    "already-reversed": (409, "この記帳は取り消し済みです"),
    "already-submitted": (409, "すでに送信されています"),
    "attachment-refused": (422, "添付ファイルを使えません (ない・検査前・形式違い・大きすぎる)"),
    "bad-gateway": (502, "サービスに接続できません"),
    "bad-request": (400, "リクエストが正しくありません"),
    "busy": (503, "混み合っています (Retry-After の後に再試行)"),
    "certificate-expired": (409, "電子証明書の有効期限が切れています"),
    "certificate-required": (409, "電子証明書が必要です"),
    "certificate-too-large": (413, "電子証明書のファイルが大きすぎます"),
    "certificate-unusable": (409, "電子証明書を使えません"),
    "conflict": (409, "他の操作と競合しました"),
    "contract-ended": (409, "契約が終了しています"),
    "data-deleted": (409, "データ削除が始まったテナントです (返却データは作れません)"),
    "cors-origin-not-allowed": (403, "このオリジンからの呼び出しは許可されていません"),
    "current-password-invalid": (422, "現在のパスワードが違います"),
    "efiling-refused": (422, "電子申請の依頼が受け付けられませんでした"),
    "egov-account-expired": (409, "e-Gov アカウントの連携が期限切れです"),
    "egov-account-not-linked": (409, "e-Gov アカウントが連携されていません"),
    "egov-authorization-failed": (422, "e-Gov の認可に失敗しました"),
    "egov-character": (422, "e-Gov が受け付けない文字があります"),
    "egov-refused": (422, "e-Gov が申請を受け付けませんでした"),
    "egov-send-in-progress": (409, "e-Gov への送信中です"),
    "egov-unavailable": (503, "e-Gov に接続できません"),
    "endpoint-disabled": (409, "Webhook の送信先が停止しています"),
    "error": (500, "エラーが発生しました"),
    "file-exists": (409, "ファイルはすでにあります"),
    "file-gone": (410, "ファイルは削除されました"),
    "file-no-content": (409, "ファイルの内容がまだありません"),
    "file-quarantined": (409, "ファイルは隔離されています (ウイルス検査)"),
    "forbidden": (403, "この操作を行う権限がありません (menu / level / scope に不足分)"),
    "gateway-timeout": (504, "サービスの応答がタイムアウトしました"),
    "headers-too-large": (431, "リクエストヘッダーが大きすぎます"),
    "idempotency-key-required": (428, "Idempotency-Key ヘッダーが必要です"),
    "idempotency-key-reused": (422, "同じ Idempotency-Key を別の内容で使った"),
    "increase-already-booked": (409, "増加概算はすでに記帳されています"),
    "internal": (500, "内部エラーが発生しました"),
    "invalid-checkpoint": (422, "チェックポイントが正しくありません"),
    "invalid-client": (401, "クライアント認証に失敗しました (OAuth2 invalid_client)"),
    "invalid-csr": (422, "証明書署名要求が正しくありません"),
    "invalid-cursor": (422, "カーソルが正しくありません"),
    "invalid-range": (422, "範囲の指定が正しくありません"),
    "invalid-request": (400, "必要な項目がありません (OAuth2 invalid_request)"),
    "invalid-scope": (400, "許可されていないスコープです (OAuth2 invalid_scope)"),
    "ip-not-allowed": (403, "この IP アドレスからは利用できません"),
    "jigyosho-closed": (409, "事業所は廃止されています"),
    "labour-insurance-number-taken": (409, "労働保険番号はすでに使われています"),
    "last-administrator": (409, "最後の管理者は削除・停止できません"),
    "link-invalid": (403, "リンクが無効か期限切れです"),
    "login-challenge-invalid": (401, "ログインの手順をやり直してください"),
    "login-failed": (401, "ログインに失敗しました"),
    "login-id-taken": (409, "ログイン ID はすでに使われています"),
    "member-left": (409, "委託を解除した会員です"),
    "method-not-allowed": (405, "このメソッドは使用できません"),
    "naive-time": (422, "時刻にタイムゾーンがありません"),
    "no-form-data": (409, "様式のデータがありません"),
    "no-renewal": (409, "年度更新の計算がありません"),
    "no-rousai": (409, "労災保険の成立がありません"),
    "not-acceptable": (406, "指定された形式では応答できません"),
    "not-awaiting-correction": (409, "補正を求められていません"),
    "not-entrusted": (409, "事務組合に委託していない顧問先です (特別加入は委託事業主のみ)"),
    "not-found": (404, "ない、または見えない (別テナント・許可外の事業所)"),
    "not-locked": (409, "ロックされていません"),
    "not-offered": (403, "この操作は提供されていません"),
    "notice-lead-time": (422, "告知期間が足りません"),
    "not-withdrawable": (409, "取り下げできない状態です"),
    "own-password-reset": (403, "自分のパスワードはここでは再設定できません"),
    "password-policy": (422, "パスワードが要件を満たしていません"),
    "payload-too-large": (413, "リクエストが大きすぎます"),
    "precondition-failed": (412, "データが他の利用者によって更新されています (If-Match が古い)"),
    "precondition-required": (428, "If-Match ヘッダーが必要です"),
    "invalid-recipient-key": (400, "返却データの暗号化に使う公開鍵が正しくありません"),
    "manifest-mismatch": (422, "返却データの manifest.json が署名済みのものと一致しません"),
    "purge-incomplete": (409, "データの削除が終わっていません"),
    "rate-limited": (429, "リクエストが多すぎます (Retry-After の後に再試行)"),
    "rate-not-found": (422, "料率が見つかりません"),
    "renewal-input": (422, "年度更新の入力に誤りがあります"),
    "renewal-run-in-progress": (409, "年度更新の一括計算を実行中です"),
    "request-timeout": (408, "リクエストがタイムアウトしました"),
    "reversal-of-reversal": (409, "取消の記帳は取り消せません"),
    "rishoku-shomeisho-required": (422, "離職証明書の内容が必要です"),
    "send-in-progress": (409, "送信中です"),
    "session-ended": (401, "セッションは終了しています"),
    "size-limit-exceeded": (422, "規模の上限を超えています"),
    "special-enrolment-ended": (409, "特別加入は終了しています"),
    "tenant-code-taken": (409, "テナントコードはすでに使われています"),
    "too-many-secrets": (409, "シークレットが多すぎます"),
    "totp-already-enrolled": (409, "二要素認証は登録済みです"),
    "totp-invalid-code": (422, "確認コードが違います"),
    "totp-not-started": (409, "二要素認証の登録が始まっていません"),
    "unauthenticated": (401, "認証が必要です (トークンがない・期限切れ・不正)"),
    "unavailable": (503, "サービスが一時的に利用できません (Retry-After の後に再試行)"),
    "unknown-procedure": (422, "手続が見つかりません"),
    "unsupported-grant-type": (400, "対応していない grant_type です (OAuth2 unsupported_grant_type)"),
    "unsupported-media-type": (415, "対応していないデータ形式です"),
    "validation": (422, "入力内容に誤りがあります (errors[])"),
}
