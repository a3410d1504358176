// A partner program against the generated Partner API client (openapi-typescript + openapi-fetch).
// `make test-contracts` regenerates generated/partner-api.ts from contracts/public/partner-api.v1.json
// and type-checks this file with `tsc --strict`: a contract change that breaks a partner breaks this.
import { createHmac, timingSafeEqual } from "node:crypto";

import createClient from "openapi-fetch";

import type { components, paths } from "./generated/partner-api.js";

type Schemas = components["schemas"];
export type WebhookEvent = Schemas["WebhookEvent"];
export type Person = Schemas["InsuredPersonOut"];
export type Filing = Schemas["FilingOut"];

/** OAuth2 client credentials (HTTP Basic); the token lives 10 minutes. */
export async function token(baseUrl: string, clientId: string, secret: string, scope: string): Promise<string> {
  const client = createClient<paths>({ baseUrl });
  const { data, error } = await client.POST("/api/v1/auth/oauth/token", {
    body: { grant_type: "client_credentials", scope },
    bodySerializer: (body) => new URLSearchParams({ grant_type: body.grant_type, scope: body.scope ?? "" }).toString(),
    headers: {
      Authorization: "Basic " + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64"),
      "Content-Type": "application/x-www-form-urlencoded",
    },
  });
  if (error) throw new Error(`token refused: ${error.title} (${error.type})`);
  return data.access_token;
}

export function api(baseUrl: string, accessToken: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${accessToken}` } });
}
type Api = ReturnType<typeof api>;

/** Everything changed since `since` (inclusive), following the pages; returns the newest time seen. */
export async function syncPersons(client: Api, since: string, seen: (p: Person) => void): Promise<string> {
  let offset = 0;
  let newest = since;
  for (;;) {
    const { data, error } = await client.GET("/api/v1/koyo-hoken/insured-persons", {
      params: { query: { sort: "updated_at", updated_since: since, limit: 100, offset } },
    });
    if (error) throw new Error(error.title);
    for (const person of data.items) {
      seen(person);
      newest = person.updated_at ?? person.created_at;
    }
    if (data.next === null || data.next === undefined) return newest;
    offset = data.offset + data.limit;
  }
}

/** Every filing whose status or e-Gov fields changed since `since` (inclusive); the newest time seen. */
export async function syncFilings(client: Api, since: string, seen: (f: Filing) => void): Promise<string> {
  const sort: Schemas["FilingSort"] = "updated_at";
  let offset = 0;
  let newest = since;
  for (;;) {
    const { data, error } = await client.GET("/api/v1/efiling/filings", {
      params: { query: { sort, updated_since: since, limit: 100, offset } },
    });
    if (error) throw new Error(error.title);
    for (const filing of data.items) {
      seen(filing);
      newest = filing.updated_at;
    }
    if (data.next === null || data.next === undefined) return newest;
    offset = data.offset + data.limit;
  }
}

/** A hire, sent again safely with the same Idempotency-Key (the first answer comes back). */
export async function hire(client: Api, jigyoshoId: string, key: string): Promise<Person> {
  const { data, error, response } = await client.POST("/api/v1/koyo-hoken/insured-persons", {
    params: { header: { "Idempotency-Key": key } },
    body: {
      jigyosho_id: jigyoshoId, family_name: "山田", given_name: "太郎", family_name_kana: "ヤマダ",
      given_name_kana: "タロウ", birth_date: "1990-04-01", hire_date: "2026-04-01", weekly_hours: "40",
      gender: "male", employment_type: "regular",
    },
  });
  if (error) throw new Error(`${error.status} ${error.title}`);
  const replayed = response.headers.get("Idempotent-Replayed") === "true";
  const state: Schemas["InsuredPersonStatus"] = data.status;
  console.log(replayed ? "already registered" : "registered", data.id, state, response.headers.get("ETag"));
  return data;
}

/** The 資格取得届 of a hire, created once whatever the retries (same Idempotency-Key). */
export async function startShutoku(client: Api, person: Person, key: string): Promise<Schemas["ProcedureOut"]> {
  const { data, error } = await client.POST("/api/v1/koyo-hoken/procedures", {
    params: { header: { "Idempotency-Key": key } },
    body: { insured_person_id: person.id, kind: "shikaku_shutoku", event_date: person.hire_date },
  });
  if (error) throw new Error(`${error.status} ${error.title}`);
  const state: Schemas["ProcedureState"] = data.state;
  console.log("procedure", data.id, state, data.due_date);
  return data;
}

/** A filing and its 公文書 ZIP. */
export async function officialDocument(client: Api, filingId: string, documentId: string): Promise<Uint8Array> {
  const filing = await client.GET("/api/v1/efiling/filings/{filing_id}", { params: { path: { filing_id: filingId } } });
  if (filing.error) throw new Error(filing.error.title);
  const status: Schemas["FilingStatus"] = filing.data.status;
  const deadline: string | null | undefined = filing.data.correction_deadline;
  console.log(status, deadline);
  const zip = await client.GET("/api/v1/efiling/filings/{filing_id}/documents/{document_id}", {
    params: { path: { filing_id: filingId, document_id: documentId } },
    parseAs: "arrayBuffer",
  });
  if (zip.error) throw new Error(zip.error.title);
  return new Uint8Array(zip.data);
}

/** Verify a delivery (HMAC-SHA256 over `<timestamp>.<raw body>`, 5 minutes) and parse it. */
export function verifyWebhook(secret: string, headers: Record<string, string>, rawBody: string,
                              nowSeconds: number): WebhookEvent {
  const timestamp = Number(headers["roumu-webhook-timestamp"]);
  if (!Number.isFinite(timestamp) || Math.abs(nowSeconds - timestamp) > 300) throw new Error("stale");
  const expected = createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest();
  const ok = (headers["roumu-webhook-signature"] ?? "").split(",").some((part) => {
    const [version, hex] = part.trim().split("=", 2);
    const given = Buffer.from(hex ?? "", "hex");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!ok) throw new Error("bad signature");
  return JSON.parse(rawBody) as WebhookEvent;
}

/** Every webhook type, typed by its `type`: the compiler checks each case's data and that none is missed. */
export function handle(event: WebhookEvent): string {
  switch (event.type) {
    case "person.registered":
      return `hired ${event.subject.insured_person_id} on ${event.data.hire_date} (${event.data.weekly_hours} h)`;
    case "person.updated":
      return `changed ${event.data.changed_fields.join(",")} of ${event.links.insured_person}`;
    case "procedure.completed": {
      const kind: Schemas["Kind"] = event.data.kind;
      return `procedure ${event.subject.procedure_id} ${kind} ${event.data.state}`;
    }
    case "official_document.received":
      return `document ${event.data.document_id} at ${event.links.document} (arrive ${event.data.arrive_id})`;
    case "correction.requested":
      return `correction of ${event.subject.filing_id} by ${event.data.correction_deadline ?? "(no deadline)"}`;
    default: {
      const none: never = event;
      return none;
    }
  }
}
