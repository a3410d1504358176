// Pieces every 管理 screen uses: the signed-in user's permissions, a problem shown in Japanese, a
// secret shown once, and the If-Match header from a record's version.
import { Alert, Button, Code, CopyButton, Group, Stack, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { accountsApi, authApi, call } from "../../api/client";
import type { Problem } from "../../api/problem";
import type { Permissions } from "./access";

export { asProblem, formErrors, ifMatch } from "./forms";

export function usePermissions() {
  return useQuery({
    queryKey: ["permissions"],
    queryFn: async (): Promise<Permissions> => {
      const r = await call(() => accountsApi.GET("/api/v1/accounts/me/permissions"));
      if (!r.ok) throw r.problem;
      return r.data as Permissions;
    },
    staleTime: 30_000,
  });
}

/** The caller's tenant id (for the tenant settings routes). */
export function useTenantId() {
  return useQuery({
    queryKey: ["me"],
    queryFn: async () => {
      const r = await call(() => authApi.GET("/api/v1/auth/me"));
      if (!r.ok) throw r.problem;
      return r.data.tenant_id;
    },
    staleTime: Infinity,
  });
}


/** The form-level message: the problem's Japanese title and detail (a 412 says to reload). */
export function ProblemAlert({ problem, testId = "form-error" }: { problem: Problem | null; testId?: string }) {
  if (!problem) return null;
  const hint = problem.status === 412 ? "画面を更新して最新の内容を確認してから、やり直してください。" : null;
  return (
    <Alert color="red" title={problem.title} role="alert" data-testid={testId}>
      {problem.detail ? <Text size="sm">{problem.detail}</Text> : null}
      {hint ? <Text size="sm">{hint}</Text> : null}
    </Alert>
  );
}

export function Done({ children, onClose }: { children: ReactNode; onClose?: () => void }) {
  return (
    <Alert color="green" title="完了しました" role="status" withCloseButton={!!onClose} onClose={onClose}
      closeButtonLabel="閉じる">
      {children}
    </Alert>
  );
}

/** A secret the API shows only in this answer: displayed once, with a copy button. */
export function SecretOnce({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  return (
    <Alert color="yellow" title={`${label}（この画面でのみ表示されます）`} role="status" data-testid="secret-once">
      <Stack gap="xs">
        <Text size="sm">控えて安全な場所に保管してください。画面を閉じると二度と表示できません。</Text>
        <Code block data-testid="secret-value">{value}</Code>
        <Group>
          <CopyButton value={value}>
            {({ copied, copy }) => (
              <Button size="xs" variant="default" onClick={copy}>{copied ? "コピーしました" : "コピー"}</Button>
            )}
          </CopyButton>
          <Button size="xs" onClick={onDone}>控えました</Button>
        </Group>
      </Stack>
    </Alert>
  );
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "—";
  return new Intl.DateTimeFormat("ja-JP-u-ca-japanese", { timeZone: "Asia/Tokyo", era: "long", year: "numeric",
    month: "long", day: "numeric" }).format(d);
}

export const PAGE = 100;

/** 前へ / 次へ over a list the API pages (limit/offset), with where we are. */
export function Pager({ offset, total, onChange, label = "ページ送り" }: {
  offset: number; total: number; onChange: (o: number) => void; label?: string;
}) {
  if (total <= PAGE) return null;
  const last = Math.min(offset + PAGE, total);
  return (
    <Group gap="xs" aria-label={label} role="group">
      <Button size="xs" variant="default" disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - PAGE))}>前へ</Button>
      <Text size="sm">{offset + 1}〜{last} 件目 / {total} 件</Text>
      <Button size="xs" variant="default" disabled={last >= total} onClick={() => onChange(offset + PAGE)}>次へ</Button>
    </Group>
  );
}
