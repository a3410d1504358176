import { describe, expect, it } from "vitest";
import { checkAllowlist, checkCidr } from "./cidr";

// Worked examples checked against Python's ipaddress.ip_network(x, strict=True), which accounts uses.
describe("checkCidr", () => {
  it.each([
    "203.0.113.0/24", "10.0.0.0/8", "192.0.2.7", "192.0.2.7/32", "0.0.0.0/0",
    "2001:db8::/32", "::1/128", "::/0", "fe80::/10", "2001:db8:0:0:0:0:0:0/64", "::ffff:192.0.2.0/120", "2001:DB8::/32",
  ])("accepts %s", (v) => {
    expect(checkCidr(v).ok).toBe(true);
  });
  it.each([
    ["192.0.2.1/24", "ホスト部"], ["2001:db8::1/32", "ホスト部"], ["10.0.0.0/33", "プレフィックス長"],
    ["2001:db8::/129", "プレフィックス長"], ["256.0.0.0/8", "解釈できません"], ["10.0.0/8", "解釈できません"],
    ["010.0.0.0/8", "解釈できません"], ["2001:db8:::/32", "解釈できません"], ["1:2:3:4:5:6:7:8:9/128", "解釈できません"],
    ["1::2::3/128", "解釈できません"], ["example.com/24", "解釈できません"], ["10.0.0.0/8/8", "形式"], ["", "入力"],
    ["10.0.0.0/-1", "プレフィックス長"],
    // Python takes a zone id; a client address never carries one, so such an entry would never match.
    ["fe80::1%eth0/128", "解釈できません"],
  ])("refuses %s (%s)", (v, why) => {
    const c = checkCidr(v);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.message).toContain(why);
  });
});

describe("checkAllowlist", () => {
  it("checks each line and names the bad ones", () => {
    const r = checkAllowlist("203.0.113.0/24\n\n192.0.2.1/24\n2001:db8::/32\n");
    expect(r.entries).toEqual(["203.0.113.0/24", "2001:db8::/32"]);
    expect(r.problems).toEqual([{ line: 3, message: expect.stringContaining("ホスト部") }]);
  });
});
