import { describe, expect, it } from "vitest";
import { describeBrowser, describeDaysLeft, formatDate, formatDateTime, formatNumber } from "./format";

describe("formatDateTime", () => {
  it("shows Japan time in 和暦 with the western year", () => {
    // 2026-12-06T23:30:00Z is 12月7日 08:30 in Tokyo.
    const text = formatDateTime("2026-12-06T23:30:00Z");
    expect(text).toContain("令和8年12月7日");
    expect(text).toContain("08:30:00");
    expect(text).toContain("2026年");
  });
  it("says — for a date it cannot read", () => {
    expect(formatDateTime("not a date")).toBe("—");
  });
});

describe("describeBrowser", () => {
  it("names common browsers and systems", () => {
    expect(describeBrowser("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"))
      .toBe("Chrome 156（Linux）");
    expect(describeBrowser("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36 Edg/130.0"))
      .toBe("Edge 130（Windows）");
    expect(describeBrowser(null)).toBe("不明");
    expect(describeBrowser("python-httpx/0.28.1")).toBe("python-httpx/0.28.1");
  });
});

it("formats numbers with separators", () => {
  expect(formatNumber(1234567)).toBe("1,234,567");
});

describe("formatDate", () => {
  it("shows a form's date in 和暦 with the weekday", () => {
    expect(formatDate("2026-12-07")).toBe("令和8年12月7日(月)");
    expect(formatDate("2019-05-01")).toBe("令和元年5月1日(水)");
    expect(formatDate("2019-04-30")).toBe("平成31年4月30日(火)");
  });
  it("says — for nothing or a non-date", () => {
    expect(formatDate(null)).toBe("—");
    expect(formatDate("2026/12/07")).toBe("—");
  });
});

it("describes days to a deadline", () => {
  expect(describeDaysLeft(3)).toBe("あと3日");
  expect(describeDaysLeft(0)).toBe("本日期限");
  expect(describeDaysLeft(-12)).toBe("12日超過");
});
