// problem+json (RFC 9457) answers turned into what a person reads: a Japanese message for the form
// and, per field, the message shown next to that field.

export interface FieldError {
  field: string;
  message: string;
  code?: string | null;
  next_allowed_at?: string;
}

export interface Problem {
  status: number;
  /** RFC 9457 `type`: ends with the stable code ("…/login-failed", "…/certificate-required"). */
  type?: string;
  title: string;
  detail?: string | null;
  errors?: FieldError[];
  next_allowed_at?: string;
  retryAfterSeconds?: number;
}

const STATUS_TITLES: Record<number, string> = {
  400: "リクエストが正しくありません",
  401: "認証が必要です",
  403: "この操作は許可されていません",
  404: "見つかりません",
  409: "ほかの操作と競合しました。画面を更新してやり直してください",
  413: "送信した内容が大きすぎます",
  422: "入力内容を確認してください",
  429: "操作が多すぎます。しばらくしてから再度お試しください",
  500: "サーバーでエラーが発生しました",
  502: "サービスに接続できません",
  503: "サービスが一時的に利用できません",
};

// Validation codes (pydantic's `type`) whose message is English: said in Japanese instead.
const CODE_MESSAGES: Record<string, string> = {
  missing: "入力してください",
  string_too_short: "入力してください（文字数が足りません）",
  string_too_long: "文字数が多すぎます",
  string_pattern_mismatch: "形式が正しくありません",
  string_type: "文字で入力してください",
  int_parsing: "数字で入力してください",
  value_error: "値が正しくありません",
  extra_forbidden: "この項目は指定できません",
};

const JAPANESE = /[\u3040-\u30ff\u3400-\u9fff]/;

export function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "status" in value && "title" in value;
}

/** A problem from any answer: the body when it is problem+json, else one made from the status. */
export function toProblem(status: number, body: unknown, headers?: Headers): Problem {
  const p: Problem = isProblem(body)
    ? { ...body, status }
    : { status, title: STATUS_TITLES[status] ?? `エラーが発生しました（${status}）` };
  if (!JAPANESE.test(p.title)) p.title = STATUS_TITLES[status] ?? "エラーが発生しました";
  const retry = headers?.get("retry-after");
  if (retry && /^\d+$/.test(retry)) p.retryAfterSeconds = Number(retry);
  return p;
}

export const NETWORK_PROBLEM: Problem = {
  status: 0,
  title: "サーバーに接続できません",
  detail: "ネットワークの接続を確認してから、もう一度お試しください",
};

/** The field a validation error names: its last path segment ("body.new_password" → "new_password"). */
export function fieldName(field: string): string {
  const parts = field.split(".");
  return parts[parts.length - 1] ?? field;
}

export function fieldMessage(e: FieldError): string {
  // pydantic's own messages are English even when they quote a Japanese pattern ("String should
  // match pattern '^[ァ-ヺ…]+$'"): its codes are said in Japanese; value_error carries our own text.
  if (e.code && e.code !== "value_error" && CODE_MESSAGES[e.code]) return CODE_MESSAGES[e.code] as string;
  if (e.message && JAPANESE.test(e.message)) return e.message;
  return (e.code && CODE_MESSAGES[e.code]) || "入力内容を確認してください";
}

/** Messages per field, several joined, for showing next to each input. */
export function fieldErrors(p: Problem | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of p?.errors ?? []) {
    const name = fieldName(e.field);
    const msg = fieldMessage(e);
    out[name] = out[name] ? `${out[name]} / ${msg}` : msg;
  }
  return out;
}
