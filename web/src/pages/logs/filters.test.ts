import { describe, expect, it } from "vitest";
import { filterErrors, nextDayStart, toQuery, toSearch, type LogFilters } from "./filters";

const empty: LogFilters = { category: "operation", userId: "", jigyoshoId: "", action: "", from: "", to: "" };

describe("log filters", () => {
  it("asks for the category only when nothing else is set", () => {
    expect(toQuery(empty)).toEqual({ category: "operation" });
  });
  it("turns days into Japan-time instants, the 'to' day included", () => {
    const q = toQuery({ ...empty, from: "2026-12-01", to: "2026-12-07" });
    expect(q.since).toBe("2026-12-01T00:00:00+09:00");
    expect(q.until).toBe("2026-12-08T00:00:00+09:00");
  });
  it("crosses months and leap days", () => {
    expect(nextDayStart("2028-02-28")).toBe("2028-02-29T00:00:00+09:00");
    expect(nextDayStart("2026-12-31")).toBe("2027-01-01T00:00:00+09:00");
  });
  it("keeps the filters the API knows", () => {
    const q = toQuery({ ...empty, userId: " u-1 ", jigyoshoId: "j-1", action: "roumu.auth." });
    expect(toSearch(q)).toBe("category=operation&user_id=u-1&jigyosho_id=j-1&action=roumu.auth.");
  });
  it("says in Japanese what is wrong", () => {
    expect(filterErrors({ ...empty, action: "Roumu" }).action).toContain("英小文字");
    expect(filterErrors({ ...empty, from: "2026-12-08", to: "2026-12-01" }).to).toContain("開始日");
    expect(filterErrors(empty)).toEqual({});
  });
});
