import { describe, expect, it } from "vitest";
import { suggestReplacement } from "./common";

describe("suggestReplacement", () => {
  it("suggests what e-Gov takes for the characters it rejects", () => {
    expect(suggestReplacement("ｱ")).toBe("ア"); // half-width katakana
    expect(suggestReplacement("①")).toBe("1"); // 丸数字
    expect(suggestReplacement("Ⅱ")).toBe("II"); // ローマ数字
    expect(suggestReplacement("㈱")).toBe("(株)"); // 組文字
    expect(suggestReplacement("髙")).toBe("高"); // 異体字, by the table
    expect(suggestReplacement("﨑")).toBe("崎");
  });
  it("suggests nothing it does not know", () => {
    expect(suggestReplacement("山")).toBeNull();
  });
});
