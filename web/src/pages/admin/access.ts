// Which 管理 sections a user sees, from GET /accounts/me/permissions (the same decision every
// service makes). Only a convenience: each API refuses on its own (403) whatever the screen shows.

export interface Permissions {
  roles: string[];
  status: string;
  menus: Record<string, "read" | "write" | undefined>;
  jigyosho: { all?: boolean; ids?: string[] };
}

export type Section = "users" | "policies" | "partners" | "webhooks" | "jigyosho";

export const SECTIONS: { key: Section; label: string }[] = [
  { key: "users", label: "利用者" },
  { key: "policies", label: "セキュリティ設定" },
  { key: "partners", label: "連携クライアント" },
  { key: "webhooks", label: "Webhook" },
  { key: "jigyosho", label: "事業所" },
];

/** Menu keys and their names (shared/permissions.py MENUS), in the order the matrix shows them. */
export const MENUS: { key: string; label: string }[] = [
  { key: "koyo_hoken", label: "雇用保険" },
  { key: "jimukumiai", label: "事務組合" },
  { key: "shakai_hoken", label: "社会保険" },
  { key: "efiling", label: "電子申請" },
  { key: "files", label: "ファイル" },
  { key: "operation_logs", label: "操作ログ" },
  { key: "user_admin", label: "利用者管理" },
  { key: "jigyosho_admin", label: "事業所管理" },
  { key: "my_number_unmasked", label: "マイナンバー表示（マスク解除）" },
];

const isAdmin = (p: Permissions) => p.status === "active" && p.roles.includes("tenant_admin");

/** The sections this user may open: users and 事業所 by their menus; tenant settings, partner
 * clients and webhooks are the tenant administrator's (auth and webhooks check the role). */
export function visibleSections(p: Permissions | undefined): Section[] {
  if (!p || p.status !== "active") return [];
  const out: Section[] = [];
  if (p.menus.user_admin) out.push("users");
  if (isAdmin(p)) out.push("policies", "partners", "webhooks");
  if (p.menus.jigyosho_admin) out.push("jigyosho");
  return SECTIONS.map((s) => s.key).filter((k) => out.includes(k));
}

export function canWrite(p: Permissions | undefined, menu: string): boolean {
  return p?.menus[menu] === "write";
}

export type Level = "none" | "read" | "write";

/** The grants body from the matrix: "none" leaves the menu out. */
export function menusFromMatrix(matrix: Record<string, Level>): Record<string, "read" | "write"> {
  const out: Record<string, "read" | "write"> = {};
  for (const [k, v] of Object.entries(matrix)) if (v !== "none") out[k] = v;
  return out;
}
