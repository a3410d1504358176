// Pure helpers of the 管理 forms: problems to per-field messages, If-Match, numbers as typed.
import { fieldErrors, isProblem, type Problem } from "../../api/problem";

/** A query's error as a problem (queries throw the problem their call answered). */
export function asProblem(error: unknown): Problem {
  return isProblem(error) ? error : { status: 0, title: "読み込めませんでした。再読み込みしてください" };
}

/** `If-Match: "<version>"` — the ETag the API sent with the record (its version). */
export function ifMatch(version: number): { "If-Match": string } {
  return { "If-Match": `"${version}"` };
}

// Conflicts that belong to one field although the API answers them without `errors`.
const FIELD_OF_TYPE: Record<string, string> = { "login-id-taken": "login_id" };

/** Messages per field: the validation errors, plus conflicts known to be about one field. */
export function formErrors(p: Problem | null): Record<string, string> {
  const out = fieldErrors(p);
  // pydantic prefixes a validator's own (Japanese) message with "Value error, ".
  for (const k of Object.keys(out)) out[k] = (out[k] ?? "").replaceAll("Value error, ", "");
  const type = (p as { type?: string } | null)?.type ?? "";
  const slug = type.split("/").pop() ?? "";
  const field = FIELD_OF_TYPE[slug];
  if (p && field && !out[field]) out[field] = p.title;
  return out;
}

/** A policy number as typed: "" = the default (null); otherwise an integer within bounds. */
export function checkPolicyNumber(text: string, min: number, max: number): { value: number | null; error?: string } {
  const t = text.trim();
  if (t === "") return { value: null };
  if (!/^\d+$/.test(t)) return { value: null, error: "半角数字で入力してください" };
  const n = Number(t);
  if (n < min || n > max) return { value: null, error: `${min}〜${max} の範囲で入力してください` };
  return { value: n };
}
