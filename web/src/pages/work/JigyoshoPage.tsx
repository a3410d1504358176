// 事業所 → 被保険者: the 事業所 the user may see (with their deadline counts), and per 事業所 its
// insured persons, paged, sorted and searched on the server (koyo_hoken's `q` and `sort`), so the
// list stays fast with 10,000 persons.
import { Anchor, Badge, Button, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { call, koyoApi } from "../../api/client";
import type { Problem } from "../../api/problem";
import { formatDate, formatNumber } from "../../format";
import { ProblemAlert } from "../LoginPage";
import { PERSON_STATUS_LABELS, Refused, fullName, kanaName, label, useJigyoshoDirectory } from "./common";

const PAGE = 50;

export function JigyoshoListPage() {
  const directory = useJigyoshoDirectory();
  const summary = useQuery({
    queryKey: ["deadline-summary"],
    queryFn: async () => {
      const r = await call(() => koyoApi.GET("/api/v1/koyo-hoken/deadlines/summary"));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  const counts = new Map((summary.data?.jigyosho ?? []).map((row) => [row.jigyosho_id, row]));
  // The master's list where the user may read it; else the 事業所 koyo_hoken answers for.
  const ids = directory.data?.listed
    ? [...directory.data.names.keys()]
    : [...counts.keys()];
  const name = (id: string) => directory.data?.names.get(id) ?? id;
  return (
    <Stack>
      <Title order={1} size="h2">事業所</Title>
      <ProblemAlert problem={(summary.error as Problem | null) ?? null} />
      <Table striped highlightOnHover data-testid="jigyosho-table" aria-label="事業所一覧">
        <Table.Thead>
          <Table.Tr><Table.Th>事業所</Table.Th><Table.Th>雇用保険適用事業所番号</Table.Th><Table.Th>期限超過</Table.Th>
            <Table.Th>期限間近</Table.Th><Table.Th>今後</Table.Th></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {ids.map((id) => {
            const c = counts.get(id);
            return (
              <Table.Tr key={id} data-testid="jigyosho-row" data-jigyosho-id={id}>
                <Table.Td><Anchor component={Link} to={`/jigyosho/${id}/persons`}>{name(id)}</Anchor></Table.Td>
                <Table.Td>{directory.data?.numbers.get(id) ?? "—"}</Table.Td>
                <Table.Td>{c?.overdue ? <Badge color="red">{formatNumber(c.overdue)} 件</Badge> : "0 件"}</Table.Td>
                <Table.Td>{c?.due_soon ? <Badge color="yellow" variant="light">{formatNumber(c.due_soon)} 件</Badge> : "0 件"}</Table.Td>
                <Table.Td>{formatNumber(c?.upcoming ?? 0)} 件</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {directory.data && ids.length === 0 && <Text data-testid="jigyosho-empty">表示できる事業所はありません。</Text>}
    </Stack>
  );
}

type Sort = "kana" | "-kana" | "hihokensha_bango" | "-hihokensha_bango" | "created_at" | "-created_at";
const SORTS: { value: Sort; label: string }[] = [
  { value: "kana", label: "フリガナ順（ア→ン）" }, { value: "-kana", label: "フリガナ順（ン→ア）" },
  { value: "hihokensha_bango", label: "被保険者番号順" }, { value: "-hihokensha_bango", label: "被保険者番号順（降順）" },
  { value: "-created_at", label: "登録が新しい順" }, { value: "created_at", label: "登録が古い順" },
];

export function PersonsPage() {
  const { jigyoshoId = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const sort = (SORTS.find((s) => s.value === params.get("sort"))?.value ?? "kana") as Sort;
  const offset = Math.max(0, Number(params.get("offset") ?? 0) || 0);
  const [draft, setDraft] = useState(q);
  const directory = useJigyoshoDirectory();

  const page = useQuery({
    queryKey: ["persons", jigyoshoId, q, sort, offset],
    queryFn: async () => {
      const query = { jigyosho_id: jigyoshoId, limit: PAGE, offset, sort, ...(q ? { q } : {}) };
      const r = await call(() => koyoApi.GET("/api/v1/koyo-hoken/insured-persons",
        { params: { query } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
    placeholderData: keepPreviousData,
    retry: false,
  });
  const problem = (page.error as Problem | null) ?? null;
  if (problem && [403, 404].includes(problem.status)) return <Refused problem={problem} what="事業所の被保険者" />;

  function go(next: Record<string, string | number>) {
    const merged = { q, sort, offset, ...next };
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(merged)) if (v !== "" && !(k === "offset" && v === 0)) out[k] = String(v);
    setParams(out);
  }
  function search(e: FormEvent) {
    e.preventDefault();
    go({ q: draft.trim(), offset: 0 });
  }
  const total = page.data?.total ?? 0;
  return (
    <Stack>
      <Group justify="space-between" align="baseline">
        <Title order={1} size="h2">被保険者 — {directory.data?.names.get(jigyoshoId) ?? "事業所"}</Title>
        <Anchor component={Link} to="/jigyosho">事業所一覧へ</Anchor>
      </Group>
      <form onSubmit={search} aria-label="被保険者の検索">
        <Group align="flex-end">
          <TextInput label="検索（氏名・フリガナ・被保険者番号）" placeholder="やまだ / 山田 / 5001-000001" value={draft}
            onChange={(e) => setDraft(e.currentTarget.value)} w={360} maxLength={50} data-testid="person-search" />
          <Button type="submit">検索</Button>
          <NativeSelect label="並び順" value={sort} data={SORTS} data-testid="person-sort"
            onChange={(e) => go({ sort: e.currentTarget.value, offset: 0 })} />
        </Group>
      </form>
      <ProblemAlert problem={problem} />
      <Group justify="space-between">
        <Text size="sm" data-testid="persons-info">
          {page.data
            ? total === 0 ? "該当する被保険者はいません"
              : `${formatNumber(total)} 人中 ${formatNumber(offset + 1)}〜${formatNumber(Math.min(offset + PAGE, total))} 人目`
            : "読み込み中…"}
        </Text>
        <Group gap="xs">
          <Button size="xs" variant="default" disabled={offset === 0} onClick={() => go({ offset: Math.max(0, offset - PAGE) })}>前のページ</Button>
          <Button size="xs" variant="default" disabled={!page.data?.next || page.isPlaceholderData}
            onClick={() => go({ offset: offset + PAGE })}>次のページ</Button>
        </Group>
      </Group>
      <Table striped highlightOnHover data-testid="persons-table" aria-label="被保険者一覧">
        <Table.Thead>
          <Table.Tr><Table.Th>氏名</Table.Th><Table.Th>フリガナ</Table.Th><Table.Th>被保険者番号</Table.Th>
            <Table.Th>雇用開始日</Table.Th><Table.Th>状態</Table.Th></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(page.data?.items ?? []).map((p) => (
            <Table.Tr key={p.id} data-testid="person-row" data-person-id={p.id}>
              <Table.Td><Anchor component={Link} to={`/persons/${p.id}`}>{fullName(p)}</Anchor></Table.Td>
              <Table.Td>{kanaName(p)}</Table.Td>
              <Table.Td>{p.hihokensha_bango ?? "未取得"}</Table.Td>
              <Table.Td>{formatDate(p.hire_date)}</Table.Td>
              <Table.Td>{label(PERSON_STATUS_LABELS, p.status)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
