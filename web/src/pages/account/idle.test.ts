import { describe, expect, it } from "vitest";
import { idleState } from "./idle";

describe("idleState", () => {
  // auth's defaults: 30 minutes idle, a warning 2 minutes before.
  it("is active until the warning period", () => {
    expect(idleState(0, 1800, 120)).toEqual({ kind: "active" });
    expect(idleState(1679_999, 1800, 120)).toEqual({ kind: "active" });
  });
  it("warns with the seconds left, rounded up", () => {
    expect(idleState(1680_000, 1800, 120)).toEqual({ kind: "warning", secondsLeft: 120 });
    expect(idleState(1799_001, 1800, 120)).toEqual({ kind: "warning", secondsLeft: 1 });
  });
  it("expires at the timeout itself", () => {
    expect(idleState(1800_000, 1800, 120)).toEqual({ kind: "expired" });
  });
  it("never warns for longer than the timeout", () => {
    expect(idleState(0, 60, 600)).toEqual({ kind: "warning", secondsLeft: 60 });
  });
});
