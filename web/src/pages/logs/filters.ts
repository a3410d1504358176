// The log screen's filters as the audit log's query parameters (pure; filters.test.ts). Dates are
// typed as days in Japan time: "from" is that day's start, "to" includes the whole day.

export interface LogFilters {
  category: "operation" | "login";
  userId: string;
  jigyoshoId: string;
  action: string;
  from: string; // yyyy-mm-dd or ""
  to: string; // yyyy-mm-dd or ""
}

export interface LogQuery {
  category: "operation" | "login";
  user_id?: string;
  jigyosho_id?: string;
  action?: string;
  since?: string;
  until?: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The start of a Japanese calendar day as an instant (JST has no daylight saving). */
export function dayStart(day: string): string {
  return `${day}T00:00:00+09:00`;
}

export function nextDayStart(day: string): string {
  const d = new Date(`${day}T00:00:00+09:00`);
  d.setUTCDate(d.getUTCDate() + 1);
  // Back to a JST wall-clock date: add 9 h before taking the date part.
  const jst = new Date(d.getTime() + 9 * 3600_000).toISOString().slice(0, 10);
  return `${jst}T00:00:00+09:00`;
}

export function toQuery(f: LogFilters): LogQuery {
  const q: LogQuery = { category: f.category };
  if (f.userId.trim()) q.user_id = f.userId.trim();
  if (f.jigyoshoId) q.jigyosho_id = f.jigyoshoId;
  if (f.action.trim()) q.action = f.action.trim();
  if (DAY.test(f.from)) q.since = dayStart(f.from);
  if (DAY.test(f.to)) q.until = nextDayStart(f.to);
  return q;
}

/** The same filters as a query string, for the CSV export link. */
export function toSearch(q: LogQuery): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v) p.set(k, String(v));
  return p.toString();
}

/** Which filter is wrong, in Japanese, before anything is asked of the API. */
export function filterErrors(f: LogFilters): Partial<Record<keyof LogFilters, string>> {
  const out: Partial<Record<keyof LogFilters, string>> = {};
  if (f.action.trim() && !/^[a-z_.]+$/.test(f.action.trim())) {
    out.action = "英小文字・「_」「.」で入力してください（例: roumu.koyo_hoken.）";
  }
  if (f.userId.trim() && !/^[A-Za-z0-9_.:@-]+$/.test(f.userId.trim())) out.userId = "利用者IDの形式が正しくありません";
  if (DAY.test(f.from) && DAY.test(f.to) && f.from > f.to) out.to = "開始日より後の日付を指定してください";
  return out;
}
