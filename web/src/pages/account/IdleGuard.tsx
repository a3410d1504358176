// Idle timeout: auth ends a session after its idle period, but the console renews the access token
// on its own, so an open tab would never look idle to auth. The console therefore watches the
// person: no input for auth's idle period signs out, with a warning shown before it (both lengths
// come from GET /auth/me, i.e. ROUMU_AUTH_IDLE_TIMEOUT_MINUTES and ROUMU_AUTH_IDLE_WARNING_SECONDS).
import { Button, Group, Modal, Text } from "@mantine/core";
import { useEffect, useRef, useState } from "react";
import { useSession } from "../../session";
import { idleState } from "./idle";

const ACTIVITY = ["pointerdown", "keydown", "wheel", "touchstart", "mousemove"] as const;

export const IDLE_REASON = "一定時間操作がなかったため、自動的にログアウトしました";

export function IdleGuard({ timeoutSeconds, warningSeconds }: { timeoutSeconds: number; warningSeconds: number }) {
  const { signOut } = useSession();
  const last = useRef(Date.now());
  const [left, setLeft] = useState<number | null>(null);  // seconds left while warning, else null
  const warning = left !== null;
  const ended = useRef(false);

  useEffect(() => {
    // While the warning shows, only its button keeps the session: a stray mouse move does not.
    if (warning) return;
    const touch = () => { last.current = Date.now(); };
    for (const e of ACTIVITY) window.addEventListener(e, touch, { passive: true });
    return () => { for (const e of ACTIVITY) window.removeEventListener(e, touch); };
  }, [warning]);

  useEffect(() => {
    const tick = window.setInterval(() => {
      const s = idleState(Date.now() - last.current, timeoutSeconds, warningSeconds);
      if (s.kind === "expired") {
        if (!ended.current) {
          ended.current = true;
          void signOut(IDLE_REASON);
        }
      } else if (s.kind === "warning") {
        setLeft(s.secondsLeft);
      } else {
        setLeft(null);
      }
    }, 1000);
    return () => window.clearInterval(tick);
  }, [timeoutSeconds, warningSeconds, signOut]);

  return (
    <Modal opened={warning} onClose={() => { last.current = Date.now(); setLeft(null); }}
      title="まもなく自動的にログアウトします" centered withinPortal
      // No scroll lock: react-remove-scroll writes a <style> element, which the CSP refuses.
      lockScroll={false} closeButtonProps={{ "aria-label": "閉じて続ける" }}>
      <Text data-testid="idle-warning">
        操作がないため、あと<strong>{left ?? 0}</strong>秒でログアウトします。続ける場合は下のボタンを押してください。
      </Text>
      <Group justify="flex-end" mt="md">
        <Button onClick={() => { last.current = Date.now(); setLeft(null); }}>ログインを続ける</Button>
      </Group>
    </Modal>
  );
}
