import { describe, expect, it } from "vitest";
import { fieldErrors, toProblem } from "./problem";

describe("toProblem", () => {
  it("keeps a Japanese problem+json body and reads Retry-After", () => {
    const p = toProblem(429, { status: 429, title: "ログインの試行が多すぎます" }, new Headers({ "Retry-After": "120" }));
    expect(p.title).toBe("ログインの試行が多すぎます");
    expect(p.retryAfterSeconds).toBe(120);
  });
  it("says a non-problem answer in Japanese", () => {
    expect(toProblem(502, "<html>bad gateway</html>").title).toBe("サービスに接続できません");
    expect(toProblem(418, null).title).toContain("418");
  });
});

describe("fieldErrors", () => {
  it("puts each message next to its field, in Japanese", () => {
    const p = toProblem(422, {
      status: 422, title: "パスワードが条件を満たしていません",
      errors: [
        { field: "new_password", code: "min_length", message: "12文字以上にしてください" },
        { field: "new_password", code: "history", message: "過去24回に使ったパスワードは使えません" },
        { field: "body.login_id", code: "missing", message: "Field required" },
      ],
    });
    const f = fieldErrors(p);
    expect(f.new_password).toBe("12文字以上にしてください / 過去24回に使ったパスワードは使えません");
    expect(f.login_id).toBe("入力してください");
  });
  it("says pydantic's English in Japanese even when it quotes a Japanese pattern", () => {
    const p = toProblem(422, { status: 422, title: "入力内容に誤りがあります", errors: [
      { field: "body.name_kana", code: "string_pattern_mismatch", message: "String should match pattern '^[ァ-ヺー]+$'" },
    ] });
    expect(fieldErrors(p).name_kana).toBe("形式が正しくありません");
  });
});
