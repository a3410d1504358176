// ダッシュボード: what is due across the 事業所 the user may see — procedures overdue (in red) and
// due soon, from koyo_hoken's deadlines (行政機関の休日 already applied by the API) — and the
// filings that need someone (補正待ち, 送信失敗, 要確認) from efiling.
import { Anchor, Badge, Card, Group, Stack, Table, Text, Title } from "@mantine/core";
import { useQueries, useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { call, efilingApi, koyoApi } from "../../api/client";
import type { Problem } from "../../api/problem";
import { describeDaysLeft, formatDate, formatDateTime, formatNumber } from "../../format";
import { ProblemAlert } from "../LoginPage";
import { useMenus } from "../logs/access";
import {
  EFILING_MENU, FILING_STATUS_LABELS, KIND_LABELS, KOYO_MENU, STATE_LABELS, fullName, label, useJigyoshoName,
  type DeadlineItem,
} from "./common";

const LIMIT = 50;
const NEEDS_ACTION = ["correction_requested", "failed", "needs_review", "unknown"] as const;

function useDeadlines(dueState: "overdue" | "due_soon", enabled: boolean) {
  return useQuery({
    queryKey: ["deadlines", dueState],
    enabled,
    queryFn: async () => {
      const r = await call(() => koyoApi.GET("/api/v1/koyo-hoken/deadlines",
        { params: { query: { due_state: dueState, limit: LIMIT } } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
}

/** The names of the persons on screen (one request each, at most a page's worth, cached). */
function usePersonNames(ids: string[]) {
  const results = useQueries({
    queries: ids.map((id) => ({
      queryKey: ["person", id],
      queryFn: async () => {
        const r = await call(() => koyoApi.GET("/api/v1/koyo-hoken/insured-persons/{person_id}",
          { params: { path: { person_id: id } } }));
        if (!r.ok) throw r.problem;
        return r.data;
      },
      staleTime: 60_000,
      retry: false,
    })),
  });
  const names = new Map<string, string>();
  results.forEach((r, i) => { if (r.data) names.set(ids[i] as string, fullName(r.data)); });
  return names;
}

function DeadlineTable({ items, overdue, testId }: { items: DeadlineItem[]; overdue: boolean; testId: string }) {
  const place = useJigyoshoName();
  const names = usePersonNames([...new Set(items.map((i) => i.insured_person_id))]);
  if (items.length === 0) return <Text size="sm" data-testid={`${testId}-empty`}>該当する手続はありません。</Text>;
  return (
    <Table striped data-testid={testId} aria-label={overdue ? "期限超過の手続" : "期限が近い手続"}>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>提出期限</Table.Th><Table.Th>残り</Table.Th><Table.Th>手続</Table.Th><Table.Th>被保険者</Table.Th>
          <Table.Th>事業所</Table.Th><Table.Th>状態</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {items.map((i) => (
          <Table.Tr key={`${i.procedure_id ?? "new"}-${i.insured_person_id}-${i.kind}`} data-testid="deadline-row"
            data-due-state={i.due_state} data-person-id={i.insured_person_id}
            className={overdue ? "deadline-overdue" : undefined}>
            <Table.Td>
              <Text component="span" size="sm" fw={overdue ? 700 : undefined} c={overdue ? "red.9" : undefined}
                data-testid="deadline-due">{formatDate(i.due_date)}</Text>
              {i.due_date !== i.raw_due_date && (
                <Text size="xs" c="gray.7">本来の期限 {formatDate(i.raw_due_date)}（行政機関の休日のため繰越し）</Text>
              )}
            </Table.Td>
            <Table.Td><Text component="span" size="sm" c={overdue ? "red.9" : undefined}>{describeDaysLeft(i.days_left)}</Text></Table.Td>
            <Table.Td>{label(KIND_LABELS, i.kind)}</Table.Td>
            <Table.Td>
              <Anchor component={Link} to={`/persons/${i.insured_person_id}`}>{names.get(i.insured_person_id) ?? "被保険者"}</Anchor>
            </Table.Td>
            <Table.Td>{place(i.jigyosho_id)}</Table.Td>
            <Table.Td>{i.state ? label(STATE_LABELS, i.state) : <Badge color="gray" variant="light">未作成</Badge>}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function FilingsCard() {
  const place = useJigyoshoName();
  const filings = useQuery({
    queryKey: ["filings-needing-action"],
    queryFn: async () => {
      const r = await call(() => efilingApi.GET("/api/v1/efiling/filings",
        { params: { query: { status: [...NEEDS_ACTION], limit: LIMIT, sort: "-updated_at" } } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  return (
    <Card withBorder padding="md" aria-labelledby="filings-title">
      <Title order={2} size="h4" id="filings-title">対応が必要な電子申請</Title>
      <ProblemAlert problem={(filings.error as Problem | null) ?? null} />
      {filings.data && filings.data.items.length === 0 && <Text size="sm" mt="sm" data-testid="filings-empty">対応が必要な申請はありません。</Text>}
      {filings.data && filings.data.items.length > 0 && (
        <Table mt="sm" data-testid="filings-table" aria-label="対応が必要な電子申請">
          <Table.Thead>
            <Table.Tr><Table.Th>状態</Table.Th><Table.Th>申請</Table.Th><Table.Th>事業所</Table.Th><Table.Th>補正期限</Table.Th><Table.Th>更新</Table.Th></Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {filings.data.items.map((f) => (
              <Table.Tr key={f.id} data-testid="filing-row" data-status={f.status}>
                <Table.Td><Badge color={f.status === "correction_requested" ? "yellow" : "red"} variant="light">{label(FILING_STATUS_LABELS, f.status)}</Badge></Table.Td>
                <Table.Td>{f.title}</Table.Td>
                <Table.Td>{place(f.jigyosho_id)}</Table.Td>
                <Table.Td>{formatDate(f.correction_deadline ?? null)}</Table.Td>
                <Table.Td>{formatDateTime(f.updated_at)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {filings.data && filings.data.total > filings.data.items.length && (
        <Text size="xs" c="gray.7" mt="xs">ほか {formatNumber(filings.data.total - filings.data.items.length)} 件</Text>
      )}
    </Card>
  );
}

export default function DashboardPage() {
  const menus = useMenus();
  const canKoyo = Boolean(menus.data?.[KOYO_MENU]);
  const canEfiling = Boolean(menus.data?.[EFILING_MENU]);
  const overdue = useDeadlines("overdue", canKoyo);
  const soon = useDeadlines("due_soon", canKoyo);
  const today = overdue.data?.today ?? soon.data?.today;
  return (
    <Stack>
      <Group justify="space-between" align="baseline">
        <Title order={1} size="h2">ダッシュボード</Title>
        {today && <Text size="sm" data-testid="dashboard-today">本日: {formatDate(today)}</Text>}
      </Group>
      {menus.data && !canKoyo && !canEfiling && (
        <Text role="status">雇用保険・電子申請のメニューの権限がないため、表示できる業務はありません。</Text>
      )}
      {canKoyo && (
        <Stack>
          <Card withBorder padding="md" aria-labelledby="overdue-title" className="card-overdue">
            <Group justify="space-between">
              <Title order={2} size="h4" id="overdue-title" c="red.9">期限を過ぎた手続</Title>
              {overdue.data && <Badge color="red" data-testid="overdue-count">{formatNumber(overdue.data.total)} 件</Badge>}
            </Group>
            <ProblemAlert problem={(overdue.error as Problem | null) ?? null} />
            {overdue.data && <DeadlineTable items={overdue.data.items} overdue testId="overdue-table" />}
          </Card>
          <Card withBorder padding="md" aria-labelledby="soon-title">
            <Group justify="space-between">
              <Title order={2} size="h4" id="soon-title">期限が近い手続</Title>
              {soon.data && <Badge color="yellow" variant="light" data-testid="due-soon-count">{formatNumber(soon.data.total)} 件</Badge>}
            </Group>
            <ProblemAlert problem={(soon.error as Problem | null) ?? null} />
            {soon.data && <DeadlineTable items={soon.data.items} overdue={false} testId="due-soon-table" />}
          </Card>
          <Text size="xs" c="gray.7">期限は行政機関の休日（土日・祝日・年末年始）を考慮して表示しています。</Text>
        </Stack>
      )}
      {canEfiling && <FilingsCard />}
    </Stack>
  );
}
