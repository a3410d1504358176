// ログ管理 (the operation-log menu): operation logs (90 days), login history and lockout records
// (1 year), filtered by user, 事業所, action and days; paged by the audit log's cursor; exported as
// the API's streamed CSV; the audit chain's verification; and "who saw this My Number".
import { Alert, Badge, Button, Card, Group, NativeSelect, Stack, Table, Tabs, Text, TextInput, Title } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { accountsApi, auditApi, authApi, authHeaders, call } from "../../api/client";
import type { components } from "../../api/generated/audit_log";
import { toProblem, type Problem } from "../../api/problem";
import { formatDateTime, formatNumber } from "../../format";
import { ProblemAlert } from "../LoginPage";
import { filterErrors, toQuery, toSearch, type LogFilters, type LogQuery } from "./filters";

type Entry = components["schemas"]["EntryOut"];

const PAGE = 100;

/** A query's error: the clients throw the Problem itself (client.ts `call`). */
function asProblem(e: unknown): Problem | null {
  return e ? (e as Problem) : null;
}

/** Readable names for the services an event type starts with; the type itself is shown beside. */
const SERVICES: Record<string, string> = {
  auth: "認証", accounts: "利用者・事業所", koyo_hoken: "雇用保険", jimukumiai: "事務組合", efiling: "電子申請",
  files: "ファイル", audit_log: "監査ログ", gateway: "ゲートウェイ", webhooks: "Webhook",
};

function service(type: string): string {
  const part = type.split(".")[1] ?? "";
  return SERVICES[part] ?? part;
}

function useNames() {
  // Display names and 事業所 names for the filters and the table; a caller without the user or
  // 事業所 menu sees ids instead (the lists answer 403, which is not an error here).
  const users = useQuery({
    queryKey: ["log-users"],
    queryFn: async () => {
      const r = await call(() => accountsApi.GET("/api/v1/accounts/users", { params: { query: { limit: 100 } } }));
      return r.ok ? r.data.items.map((u) => ({ id: u.id, name: `${u.display_name}（${u.login_id}）` })) : [];
    },
    staleTime: 5 * 60_000,
  });
  const jigyosho = useQuery({
    queryKey: ["log-jigyosho"],
    queryFn: async () => {
      const r = await call(() => accountsApi.GET("/api/v1/accounts/jigyosho", { params: { query: { limit: 100 } } }));
      return r.ok ? r.data.items.map((j) => ({ id: j.id, name: j.name })) : [];
    },
    staleTime: 5 * 60_000,
  });
  return useMemo(() => ({
    users: users.data ?? [],
    jigyosho: jigyosho.data ?? [],
    user: (id: string) => users.data?.find((u) => u.id === id)?.name ?? id,
    place: (id: string | null | undefined) => (id ? jigyosho.data?.find((j) => j.id === id)?.name ?? id : "—"),
  }), [users.data, jigyosho.data]);
}

async function downloadCsv(q: LogQuery): Promise<Problem | null> {
  // The API streams the CSV; the browser needs the bearer header, so it is fetched and handed to
  // the download as a Blob (a navigation could not carry the header).
  const r = await fetch(`/api/v1/audit-log/entries.csv?${toSearch(q)}`, { headers: authHeaders() });
  if (!r.ok) return toProblem(r.status, await r.json().catch(() => null), r.headers);
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = `roumu-${q.category}-log.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return null;
}

function EntriesTab({ category }: { category: "operation" | "login" }) {
  const names = useNames();
  const blank: LogFilters = { category, userId: "", jigyoshoId: "", action: "", from: "", to: "" };
  const [draft, setDraft] = useState<LogFilters>(blank);
  const [applied, setApplied] = useState<LogQuery>({ category });
  const [cursors, setCursors] = useState<(string | null)[]>([null]);  // the cursor of each page seen
  const [csvProblem, setCsvProblem] = useState<Problem | null>(null);
  const errors = filterErrors(draft);
  const cursor = cursors[cursors.length - 1] ?? null;

  const page = useQuery({
    queryKey: ["log-entries", applied, cursor],
    queryFn: async () => {
      const r = await call(() => auditApi.GET("/api/v1/audit-log/entries", {
        params: { query: { ...applied, limit: PAGE, ...(cursor ? { cursor } : {}) } },
      }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
    placeholderData: keepPreviousData,
  });
  const csv = useMutation({ mutationFn: () => downloadCsv(applied), onSuccess: setCsvProblem });

  function search(e: FormEvent) {
    e.preventDefault();
    if (Object.keys(errors).length) return;
    setApplied(toQuery(draft));
    setCursors([null]);
  }
  const set = (k: keyof LogFilters) => (e: { currentTarget: { value: string } }) =>
    setDraft({ ...draft, [k]: e.currentTarget.value });
  const label = category === "operation" ? "操作ログ" : "ログイン履歴";

  return (
    <Stack mt="md">
      <form onSubmit={search} noValidate aria-label={`${label}の絞り込み`}>
        <Group align="flex-end" wrap="wrap">
          {names.users.length ? (
            <NativeSelect label="利用者" value={draft.userId} onChange={set("userId")}
              data={[{ value: "", label: "すべて" }, ...names.users.map((u) => ({ value: u.id, label: u.name }))]} />
          ) : (
            <TextInput label="利用者ID" value={draft.userId} onChange={set("userId")} error={errors.userId}
              aria-invalid={Boolean(errors.userId)} />
          )}
          <NativeSelect label="事業所" value={draft.jigyoshoId} onChange={set("jigyoshoId")}
            data={[{ value: "", label: "すべて" }, ...names.jigyosho.map((j) => ({ value: j.id, label: j.name }))]} />
          <TextInput label="操作（種類またはその先頭）" placeholder="roumu.koyo_hoken." value={draft.action}
            onChange={set("action")} error={errors.action} aria-invalid={Boolean(errors.action)} />
          <TextInput type="date" label="開始日" value={draft.from} onChange={set("from")} />
          <TextInput type="date" label="終了日" value={draft.to} onChange={set("to")} error={errors.to}
            aria-invalid={Boolean(errors.to)} />
          <Button type="submit">検索</Button>
          <Button variant="default" onClick={() => csv.mutate()} loading={csv.isPending}>CSV 出力</Button>
        </Group>
      </form>
      <ProblemAlert problem={csvProblem ?? asProblem(page.error)} />
      <Group justify="space-between">
        <Text size="sm" data-testid="log-page-info">
          {page.data ? `${cursors.length} ページ目: ${formatNumber(page.data.items.length)} 件（新しい順、1ページ ${PAGE} 件）` : "読み込み中…"}
        </Text>
        <Group gap="xs">
          <Button size="xs" variant="default" disabled={cursors.length < 2}
            onClick={() => setCursors(cursors.slice(0, -1))}>前のページ</Button>
          <Button size="xs" variant="default" disabled={!page.data?.next_cursor || page.isPlaceholderData}
            onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}>次のページ</Button>
        </Group>
      </Group>
      <Table striped highlightOnHover data-testid="log-table" aria-label={label}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>日時</Table.Th><Table.Th>利用者</Table.Th><Table.Th>事業所</Table.Th>
            <Table.Th>操作</Table.Th><Table.Th>対象</Table.Th><Table.Th>接続元</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(page.data?.items ?? []).map((e: Entry) => (
            <Table.Tr key={e.event_id} data-testid="log-row" data-event-id={e.event_id}>
              <Table.Td>{formatDateTime(e.occurred_at)}</Table.Td>
              <Table.Td>{e.actor_kind === "user" ? names.user(e.actor_id) : `${e.actor_kind}: ${e.actor_id}`}</Table.Td>
              <Table.Td>{names.place(e.jigyosho_id)}</Table.Td>
              <Table.Td><Text size="xs" c="gray.7" component="span">{service(e.type)}</Text> <Code>{e.type}</Code></Table.Td>
              <Table.Td>{Object.entries(e.subject).map(([k, v]) => `${k}: ${v}`).join(", ") || "—"}</Table.Td>
              <Table.Td>{e.actor_ip ?? "—"}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {page.data && page.data.items.length === 0 && <Text data-testid="log-empty">該当する記録はありません。</Text>}
    </Stack>
  );
}

function Code({ children }: { children: string }) {
  return <Text component="code" size="xs" ff="monospace">{children}</Text>;
}

function LockoutsTab() {
  const names = useNames();
  const lockouts = useQuery({
    queryKey: ["lockouts"],
    queryFn: async () => {
      const r = await call(() => authApi.GET("/api/v1/auth/lockouts"));
      if (!r.ok) throw r.problem;
      return r.data;
    },
    retry: false,
  });
  if (lockouts.error) {
    const p = asProblem(lockouts.error) ?? { status: 0, title: "エラーが発生しました" };
    if (p.status === 403) return <Text mt="md" role="status">ロック記録は事務所の管理者だけが閲覧できます。</Text>;
    return <ProblemAlert problem={p} />;
  }
  return (
    <Table striped mt="md" data-testid="lockout-table" aria-label="ロック記録">
      <Table.Thead>
        <Table.Tr><Table.Th>利用者</Table.Th><Table.Th>ロック日時</Table.Th><Table.Th>解除予定</Table.Th>
          <Table.Th>解除</Table.Th><Table.Th>失敗回数</Table.Th><Table.Th>接続元</Table.Th></Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {(lockouts.data ?? []).map((l) => (
          <Table.Tr key={l.id}>
            <Table.Td>{names.user(l.user_id)}</Table.Td>
            <Table.Td>{formatDateTime(l.locked_at)}</Table.Td>
            <Table.Td>{l.locked_until ? formatDateTime(l.locked_until) : "管理者が解除するまで"}</Table.Td>
            <Table.Td>{l.unlocked_at
              ? `${formatDateTime(l.unlocked_at)}（${l.unlock_reason === "expired" ? "期間満了" : l.unlocked_by ? `管理者 ${names.user(l.unlocked_by)}` : l.unlock_reason ?? ""}）`
              : <Badge color="red">ロック中</Badge>}</Table.Td>
            <Table.Td>{l.failures}</Table.Td>
            <Table.Td>{l.ip ?? "—"}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function VerifyTab() {
  const verify = useMutation({
    mutationFn: async () => {
      const r = await call(() => auditApi.GET("/api/v1/audit-log/verify"));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  const v = verify.data;
  return (
    <Stack mt="md">
      <Text size="sm">記録は事務所ごとにハッシュで連結され、署名付きチェックポイントと照合されます。改ざんや欠落があれば最初の1件を示します。</Text>
      <Group><Button onClick={() => verify.mutate()} loading={verify.isPending}>改ざん検証を実行</Button></Group>
      <ProblemAlert problem={asProblem(verify.error)} />
      {v && (
        <Card withBorder data-testid="verify-result">
          {/* gray, not green: Mantine's light green title is below 4.5:1 on this theme (axe) */}
          <Alert color={v.ok ? "gray" : "red"} title={v.ok ? "改ざんは見つかりませんでした" : "一致しない記録があります"}>
            検証日時: {formatDateTime(v.verified_at)}
            {v.first_mismatch && (
              <Text size="sm">最初の不一致: {v.first_mismatch.category} の {v.first_mismatch.tenant_seq} 番目
                （{v.first_mismatch.reason}）{v.first_mismatch.detail}</Text>
            )}
          </Alert>
          <Table mt="sm">
            <Table.Thead><Table.Tr><Table.Th>種類</Table.Th><Table.Th>確認した記録</Table.Th><Table.Th>チェックポイント</Table.Th><Table.Th>範囲</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>
              {v.chains.map((c) => (
                <Table.Tr key={c.category}>
                  <Table.Td>{c.category === "login" ? "ログイン" : "操作"}</Table.Td>
                  <Table.Td>{formatNumber(c.entries_checked)} 件</Table.Td>
                  <Table.Td>{formatNumber(c.checkpoints_checked)} 件</Table.Td>
                  <Table.Td>{c.start_seq} 〜 {c.last_seq}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
    </Stack>
  );
}

function MyNumberTab() {
  const names = useNames();
  const [person, setPerson] = useState("");
  const [asked, setAsked] = useState<string | null>(null);
  const valid = /^[A-Za-z0-9_.:@-]{1,100}$/.test(person.trim());
  const views = useQuery({
    queryKey: ["my-number-views", asked],
    enabled: asked !== null,
    queryFn: async () => {
      const r = await call(() => auditApi.GET("/api/v1/audit-log/my-number-views", {
        params: { query: { person_id: asked ?? "", limit: 500 } },
      }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  return (
    <Stack mt="md">
      <form noValidate aria-label="マイナンバーの閲覧記録" onSubmit={(e) => { e.preventDefault(); if (valid) setAsked(person.trim()); }}>
        <Group align="flex-end">
          <TextInput label="被保険者ID" value={person} onChange={(e) => setPerson(e.currentTarget.value)}
            error={person && !valid ? "IDの形式が正しくありません" : undefined} aria-invalid={Boolean(person && !valid)} />
          <Button type="submit">誰が見たかを調べる</Button>
        </Group>
      </form>
      <ProblemAlert problem={asProblem(views.error)} />
      {views.data && (
        <Table striped data-testid="my-number-views" aria-label="マイナンバーの閲覧記録">
          <Table.Thead><Table.Tr><Table.Th>日時</Table.Th><Table.Th>閲覧した利用者</Table.Th><Table.Th>接続元</Table.Th><Table.Th>経路</Table.Th><Table.Th>リクエストID</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>
            {views.data.items.map((e) => (
              <Table.Tr key={e.event_id}>
                <Table.Td>{formatDateTime(e.occurred_at)}</Table.Td>
                <Table.Td>{e.actor_kind === "user" ? names.user(e.actor_id) : `${e.actor_kind}: ${e.actor_id}`}</Table.Td>
                <Table.Td>{e.actor_ip ?? "—"}</Table.Td>
                <Table.Td>{e.type.startsWith("roumu.efiling.") ? "電子申請データ" : "被保険者の画面"}</Table.Td>
                <Table.Td>{e.trace_id ?? "—"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {views.data?.items.length === 0 && <Text>この被保険者のマイナンバーを閲覧した記録はありません。</Text>}
    </Stack>
  );
}

export default function LogsPage() {
  return (
    <Stack>
      <Title order={1} size="h2">ログ管理</Title>
      <Tabs defaultValue="operation" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="operation">操作ログ（90日）</Tabs.Tab>
          <Tabs.Tab value="login">ログイン履歴（1年）</Tabs.Tab>
          <Tabs.Tab value="lockouts">ロック記録（1年）</Tabs.Tab>
          <Tabs.Tab value="my-number">マイナンバー閲覧記録</Tabs.Tab>
          <Tabs.Tab value="verify">改ざん検証</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="operation"><EntriesTab category="operation" /></Tabs.Panel>
        <Tabs.Panel value="login"><EntriesTab category="login" /></Tabs.Panel>
        <Tabs.Panel value="lockouts"><LockoutsTab /></Tabs.Panel>
        <Tabs.Panel value="my-number"><MyNumberTab /></Tabs.Panel>
        <Tabs.Panel value="verify"><VerifyTab /></Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
