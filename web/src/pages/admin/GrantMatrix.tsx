// The grants editor: every menu × なし / 閲覧 / 更新, then the 事業所 the user may see (all, or a list
// found by search and paged: any number of them).
import { Checkbox, Radio, Stack, Table, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { MENUS, type Level } from "./access";
import { Pager } from "./common";
import { useJigyoshoPage } from "./jigyosho";

const LEVELS: { value: Level; label: string }[] = [
  { value: "none", label: "なし" },
  { value: "read", label: "閲覧" },
  { value: "write", label: "更新" },
];

export function MenuMatrix({ value, onChange, error, adminRole }: {
  value: Record<string, Level>;
  onChange: (v: Record<string, Level>) => void;
  error?: string | undefined;
  adminRole: boolean;
}) {
  return (
    <Stack gap={4}>
      <Table withTableBorder withColumnBorders striped data-testid="menu-matrix" aria-describedby="menu-matrix-note">
        <Table.Caption>メニュー権限</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">メニュー</Table.Th>
            {LEVELS.map((l) => <Table.Th scope="col" key={l.value}>{l.label}</Table.Th>)}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {MENUS.map((m) => (
            <Table.Tr key={m.key}>
              <Table.Th scope="row">{m.label}</Table.Th>
              {LEVELS.map((l) => (
                <Table.Td key={l.value}>
                  <Radio name={`menu-${m.key}`} value={l.value} aria-label={`${m.label}: ${l.label}`}
                    checked={(value[m.key] ?? "none") === l.value}
                    onChange={() => onChange({ ...value, [m.key]: l.value })} />
                </Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Text size="xs" c="gray.7" id="menu-matrix-note">
        {adminRole
          ? "管理者はマイナンバー表示（マスク解除）を除くすべてのメニューを更新できます（この表は一般職員になった場合に使われます）。"
          : "「更新」は「閲覧」を含みます。"}
      </Text>
      {error ? <Text size="sm" c="red.9" role="alert">{error}</Text> : null}
    </Stack>
  );
}

export function JigyoshoGrantEditor({ all, ids, canList, onChange, error }: {
  all: boolean;
  ids: string[];
  canList: boolean;
  onChange: (all: boolean, ids: string[]) => void;
  error?: string | undefined;
}) {
  const [q, setQ] = useState("");
  const [term] = useDebouncedValue(q.trim(), 300);
  const [offset, setOffset] = useState(0);
  const page = useJigyoshoPage(canList && !all, term, offset);
  const options = page.data?.items ?? [];
  return (
    <Stack gap={4} data-testid="jigyosho-grants">
      <Checkbox label="すべての事業所（今後登録される事業所を含む）" checked={all}
        onChange={(e) => onChange(e.currentTarget.checked, ids)} />
      {!all && canList ? (
        <>
          <TextInput label="事業所を検索" description="名称・カナ・労働保険番号・雇用保険適用事業所番号の一部"
            type="search" value={q} data-testid="jigyosho-search"
            onChange={(e) => { setQ(e.currentTarget.value); setOffset(0); }} />
          <Text size="sm" data-testid="jigyosho-selected">選択中: {ids.length} 件</Text>
          {/* The group keeps the ids chosen on other pages or searches: only this page's boxes toggle. */}
          <Checkbox.Group label="閲覧・操作できる事業所" value={ids} onChange={(v) => onChange(false, v)}>
            <Stack gap={4} mt={4}>
              {page.isError ? <Text size="sm" c="red.9" role="alert">事業所の一覧を読み込めませんでした。</Text> : null}
              {page.data && options.length === 0
                ? <Text size="sm">{term ? "該当する事業所はありません。" : "登録された事業所はありません。"}</Text> : null}
              {options.map((o) => (
                <Checkbox key={o.id} value={o.id} label={o.closed ? `${o.name}（廃止）` : o.name} />
              ))}
            </Stack>
          </Checkbox.Group>
          <Pager offset={offset} total={page.data?.total ?? 0} onChange={setOffset} label="事業所のページ送り" />
        </>
      ) : null}
      {!all && !canList ? (
        <Text size="sm">事業所の一覧を読む権限がありません（事業所管理メニュー）。</Text>
      ) : null}
      {error ? <Text size="sm" c="red.9" role="alert">{error}</Text> : null}
    </Stack>
  );
}
