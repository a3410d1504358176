import { describe, expect, it } from "vitest";
import { toProblem } from "../../api/problem";
import { checkPolicyNumber, formErrors, ifMatch } from "./forms";

describe("formErrors", () => {
  it("puts a taken login id next to its field", () => {
    const p = toProblem(409, { status: 409, type: "https://roumu.example/problems/login-id-taken",
      title: "このログインIDは既に使われています" });
    expect(formErrors(p).login_id).toBe("このログインIDは既に使われています");
  });
  it("keeps validation errors per field, in Japanese", () => {
    const p = toProblem(422, { status: 422, title: "入力内容に誤りがあります", errors: [
      { field: "body.ip_allowlist", code: "value_error", message: "Value error, 2番目の値を CIDR として解釈できません（ホスト部は0にしてください）" },
      { field: "body.display_name", code: "string_too_short", message: "String should have at least 1 character" },
    ] });
    expect(formErrors(p)).toEqual({
      ip_allowlist: "2番目の値を CIDR として解釈できません（ホスト部は0にしてください）",
      display_name: "入力してください（文字数が足りません）",
    });
  });
  it("is empty without a problem", () => {
    expect(formErrors(null)).toEqual({});
  });
});

describe("checkPolicyNumber", () => {
  it("reads blank as the default, and checks bounds and digits", () => {
    expect(checkPolicyNumber(" ", 8, 128)).toEqual({ value: null });
    expect(checkPolicyNumber("12", 8, 128)).toEqual({ value: 12 });
    expect(checkPolicyNumber("7", 8, 128).error).toContain("8〜128");
    expect(checkPolicyNumber("1e2", 8, 128).error).toContain("半角数字");
    expect(checkPolicyNumber("１２", 8, 128).error).toContain("半角数字");
  });
});

describe("ifMatch", () => {
  it("quotes the version as the API's ETag does", () => {
    expect(ifMatch(3)).toEqual({ "If-Match": '"3"' });
  });
});
