import { describe, expect, it } from "vitest";
import { menusFromMatrix, visibleSections, type Permissions } from "./access";

const base: Permissions = { roles: ["staff"], status: "active", menus: {}, jigyosho: { all: false, ids: [] } };

describe("visibleSections", () => {
  it("shows an administrator every section", () => {
    const p = { ...base, roles: ["tenant_admin"], menus: { user_admin: "write", jigyosho_admin: "write" } } as Permissions;
    expect(visibleSections(p)).toEqual(["users", "policies", "partners", "webhooks", "jigyosho"]);
  });
  it("shows staff only the sections of their menus", () => {
    expect(visibleSections({ ...base, menus: { jigyosho_admin: "read", koyo_hoken: "write" } })).toEqual(["jigyosho"]);
    expect(visibleSections({ ...base, menus: { user_admin: "read" } })).toEqual(["users"]);
    expect(visibleSections({ ...base, menus: { koyo_hoken: "write" } })).toEqual([]);
  });
  it("shows a disabled user nothing, and nothing before the permissions are known", () => {
    expect(visibleSections({ ...base, roles: ["tenant_admin"], status: "disabled", menus: { user_admin: "write" } })).toEqual([]);
    expect(visibleSections(undefined)).toEqual([]);
  });
});

describe("menusFromMatrix", () => {
  it("leaves out the menus set to none", () => {
    expect(menusFromMatrix({ koyo_hoken: "write", files: "none", operation_logs: "read" }))
      .toEqual({ koyo_hoken: "write", operation_logs: "read" });
  });
});
