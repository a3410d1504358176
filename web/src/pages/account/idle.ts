// The idle rule, pure: how long since the last input decides active, warning (with seconds left)
// or expired. Tested in idle.test.ts.

export type IdleState = { kind: "active" } | { kind: "warning"; secondsLeft: number } | { kind: "expired" };

export function idleState(idleMs: number, timeoutSeconds: number, warningSeconds: number): IdleState {
  const leftMs = timeoutSeconds * 1000 - idleMs;
  if (leftMs <= 0) return { kind: "expired" };
  if (leftMs <= Math.min(warningSeconds, timeoutSeconds) * 1000) {
    return { kind: "warning", secondsLeft: Math.ceil(leftMs / 1000) };
  }
  return { kind: "active" };
}
