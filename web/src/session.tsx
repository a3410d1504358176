// Who is signed in. A page load asks auth for a new access token through the refresh cookie, so a
// reload keeps the session without the page ever holding the refresh token.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { accountsApi, authApi, call, token } from "./api/client";
import type { components } from "./api/generated/auth";

export type PreviousLogin = components["schemas"]["PreviousLogin"];

export interface Account {
  userId: string;
  loginId: string;
  displayName: string;
  roles: string[];
  previousLogin: PreviousLogin | null;
  totpEnabled: boolean;
  recoveryCodesLeft: number;
  passwordChangedAt: string | null;
  /** auth's session policy: no activity this long ends the session; the console warns before it. */
  idleTimeoutSeconds: number;
  idleWarningSeconds: number;
}

type State =
  | { status: "loading" }
  | { status: "anonymous"; reason?: string }
  | { status: "authenticated" };

interface SessionApi {
  state: State;
  signedIn(accessToken: string, expiresIn: number | null | undefined): void;
  signOut(reason?: string): Promise<void>;
}

const SessionContext = createContext<SessionApi | null>(null);

export function useSession(): SessionApi {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside SessionProvider");
  return s;
}

/** The signed-in user (TanStack Query's `account` query; dropped at sign-out). */
export function useAccount() {
  return useQuery({ queryKey: ["account"], queryFn: loadAccount, staleTime: 60_000 });
}

async function loadAccount(): Promise<Account> {
  const me = await call(() => authApi.GET("/api/v1/auth/me"));
  if (!me.ok) throw me.problem;
  const user = await call(() =>
    accountsApi.GET("/api/v1/accounts/users/{user_id}", { params: { path: { user_id: me.data.user_id } } }),
  );
  if (!user.ok && user.problem.status === 401) throw user.problem;
  return {
    userId: me.data.user_id,
    loginId: me.data.login_id,
    displayName: user.ok ? user.data.display_name : me.data.login_id,
    roles: me.data.roles,
    previousLogin: me.data.previous_login ?? null,
    totpEnabled: me.data.totp_enabled,
    recoveryCodesLeft: me.data.recovery_codes_left,
    passwordChangedAt: me.data.password_changed_at ?? null,
    idleTimeoutSeconds: me.data.idle_timeout_seconds,
    idleWarningSeconds: me.data.idle_warning_seconds,
  };
}

async function refreshOnce(): Promise<{ accessToken: string; expiresIn: number } | null> {
  const r = await call(() => authApi.POST("/api/v1/auth/token/refresh", { body: {} }));
  return r.ok ? { accessToken: r.data.access_token, expiresIn: r.data.expires_in } : null;
}

// One refresh per page load, however often React runs the effect: a second use of the same
// refresh cookie would look like a replayed token and end the session.
let bootstrap: Promise<{ accessToken: string; expiresIn: number } | null> | null = null;

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>({ status: "loading" });
  const queryClient = useQueryClient();
  const timer = useRef<number | undefined>(undefined);

  const schedule = useCallback((expiresIn: number | null | undefined) => {
    window.clearTimeout(timer.current);
    if (!expiresIn) return;
    // Renew a minute before the access token lapses (never sooner than 10 s from now).
    const ms = Math.max(10, expiresIn - 60) * 1000;
    timer.current = window.setTimeout(async () => {
      const t = await refreshOnce();
      if (t) {
        token.set(t.accessToken);
        schedule(t.expiresIn);
      } else {
        token.set(null);
        setState({ status: "anonymous", reason: "セッションが終了しました。もう一度ログインしてください" });
      }
    }, ms);
  }, []);

  const signedIn = useCallback((accessToken: string, expiresIn: number | null | undefined) => {
    token.set(accessToken);
    schedule(expiresIn);
    setState({ status: "authenticated" });
  }, [schedule]);

  const signOut = useCallback(async (reason?: string) => {
    await call(() => authApi.POST("/api/v1/auth/logout"));
    window.clearTimeout(timer.current);
    token.set(null);
    queryClient.clear();
    setState({ status: "anonymous", reason: reason ?? "ログアウトしました" });
  }, [queryClient]);

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      bootstrap ??= refreshOnce();
      const t = await bootstrap;
      if (cancelled) return;
      if (t) signedIn(t.accessToken, t.expiresIn);
      else setState({ status: "anonymous" });
    })();
    return () => {
      cancelled = true;
    };
  }, [signedIn]);

  const value = useMemo(() => ({ state, signedIn, signOut }), [state, signedIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
