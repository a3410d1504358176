// Dates and numbers as the office reads them: Japan time, 和暦 with the western year beside it.

const TZ = "Asia/Tokyo";

const wareki = new Intl.DateTimeFormat("ja-JP-u-ca-japanese", {
  timeZone: TZ, era: "long", year: "numeric", month: "long", day: "numeric", weekday: "short",
});
const seireki = new Intl.DateTimeFormat("ja-JP", { timeZone: TZ, year: "numeric" });
const clock = new Intl.DateTimeFormat("ja-JP", {
  timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
const hhmm = new Intl.DateTimeFormat("ja-JP", { timeZone: TZ, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const numbers = new Intl.NumberFormat("ja-JP");

/** "令和8年12月7日(月) 11:45:30（2026年）" */
export function formatDateTime(value: string | Date): string {
  const d = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) return "—";
  const day = wareki.format(d);
  return `${day} ${clock.format(d)}（${seireki.format(d)}）`;
}

/** A calendar date of a form ("2026-12-07"): "令和8年12月7日(月)" — the 和暦 the 届出 use. */
export function formatDate(value: string | null | undefined): string {
  if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return "—";
  const d = new Date(`${value}T12:00:00+09:00`);
  return Number.isNaN(d.getTime()) ? "—" : wareki.format(d);
}

/** "あと3日" / "本日期限" / "5日超過" — a deadline's distance as the dashboard says it. */
export function describeDaysLeft(days: number): string {
  if (days === 0) return "本日期限";
  return days > 0 ? `あと${formatNumber(days)}日` : `${formatNumber(-days)}日超過`;
}

/** "14:05" — for "until when" messages on the same day. */
export function formatTime(value: Date): string {
  return hhmm.format(value);
}

export function formatNumber(value: number): string {
  return numbers.format(value);
}

/** A short, readable name for a User-Agent string: "Chrome 156（Linux）". */
export function describeBrowser(ua: string | null | undefined): string {
  if (!ua) return "不明";
  const browsers: [RegExp, string][] = [
    [/Edg\/(\d+)/, "Edge"],
    [/Firefox\/(\d+)/, "Firefox"],
    [/(?:Chrome|Chromium|HeadlessChrome)\/(\d+)/, "Chrome"],
    [/Version\/(\d+).*Safari\//, "Safari"],
  ];
  const systems: [RegExp, string][] = [
    [/Windows NT/, "Windows"],
    [/iPhone|iPad/, "iOS"],
    [/Mac OS X/, "macOS"],
    [/Android/, "Android"],
    [/Linux/, "Linux"],
  ];
  const system = systems.find(([re]) => re.test(ua))?.[1];
  for (const [re, name] of browsers) {
    const m = re.exec(ua);
    if (m) return system ? `${name} ${m[1]}（${system}）` : `${name} ${m[1]}`;
  }
  return ua.length > 60 ? `${ua.slice(0, 60)}…` : ua;
}
