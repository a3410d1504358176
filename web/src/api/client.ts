// The typed API clients (generated from contracts/openapi) and the access token, held in memory
// only: never in localStorage or sessionStorage. The refresh token is an HttpOnly cookie that auth
// sets in cookie mode; script never sees it.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths as AccountsPaths } from "./generated/accounts";
import type { paths as AuditLogPaths } from "./generated/audit_log";
import type { paths as AuthPaths } from "./generated/auth";
import type { paths as WebhooksPaths } from "./generated/webhooks";
import type { paths as KoyoPaths } from "./generated/koyo_hoken";
import type { paths as EfilingPaths } from "./generated/efiling";
import { NETWORK_PROBLEM, toProblem, type Problem } from "./problem";

/** Asks auth for cookie mode; on the refresh route it is also the CSRF proof (a custom header). */
export const TOKEN_MODE_HEADER = "X-Token-Mode";

let accessToken: string | null = null;

export const token = {
  set(value: string | null): void {
    accessToken = value;
  },
  present(): boolean {
    return accessToken !== null;
  },
};

const bearer: Middleware = {
  onRequest({ request }) {
    if (accessToken) request.headers.set("Authorization", `Bearer ${accessToken}`);
    return request;
  },
};

const baseUrl = typeof location === "undefined" ? "http://localhost" : location.origin;

export const authApi = createClient<AuthPaths>({
  baseUrl,
  credentials: "same-origin",
  headers: { [TOKEN_MODE_HEADER]: "cookie" },
});
authApi.use(bearer);

export const accountsApi = createClient<AccountsPaths>({ baseUrl, credentials: "same-origin" });
accountsApi.use(bearer);

export const auditApi = createClient<AuditLogPaths>({ baseUrl, credentials: "same-origin" });
auditApi.use(bearer);

export const webhooksApi = createClient<WebhooksPaths>({ baseUrl, credentials: "same-origin" });
webhooksApi.use(bearer);

export const koyoApi = createClient<KoyoPaths>({ baseUrl, credentials: "same-origin" });
koyoApi.use(bearer);

export const efilingApi = createClient<EfilingPaths>({ baseUrl, credentials: "same-origin" });
efilingApi.use(bearer);

/** The bearer header for a raw fetch (a streamed CSV download). */
export function authHeaders(): Record<string, string> {
  return accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
}

export type Result<T> = { ok: true; data: T } | { ok: false; problem: Problem };

/** One call's answer as data or a Japanese problem; a network failure is a problem too. */
export async function call<T>(
  run: () => Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Result<T>> {
  try {
    const { data, error, response } = await run();
    if (response.ok && data !== undefined) return { ok: true, data };
    if (response.ok) return { ok: true, data: undefined as T };
    return { ok: false, problem: toProblem(response.status, error, response.headers) };
  } catch {
    return { ok: false, problem: NETWORK_PROBLEM };
  }
}
